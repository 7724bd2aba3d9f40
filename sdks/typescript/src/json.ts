/**
 * JSON with positions: parse a workspace file and find the line and column
 * of any member, so findings point at the field they are about.
 *
 * @module
 */

/** A 1-based line and column. */
export interface Position {
  line: number;
  column: number;
}

/** A JSON text that is not valid, with where it stops being valid. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: Position,
  ) {
    super(`${message} at line ${position.line}, column ${position.column}`);
    this.name = "JsonSyntaxError";
  }
}

/** A parsed JSON document that remembers where each member is. */
export interface LocatedJson {
  /** The parsed value (as `JSON.parse` gives it; a repeated key keeps its last value). */
  value: unknown;
  /**
   * Where the member at `path` starts: the key of an object member, the
   * value of an array item; the root is `[]`. `undefined` when absent.
   */
  locate(path: readonly (string | number)[]): Position | undefined;
}

/** Parses `text`; throws {@link JsonSyntaxError}. */
export function parseJson(text: string): LocatedJson {
  const positions = new Map<string, Position>();
  let i = 0;
  let line = 1;
  let lineStart = 0;

  const here = (): Position => ({ line, column: i - lineStart + 1 });
  const fail = (what: string): never => {
    throw new JsonSyntaxError(what, here());
  };
  const space = () => {
    while (i < text.length) {
      const c = text[i];
      if (c === "\n") {
        line++;
        lineStart = i + 1;
      } else if (c !== " " && c !== "\t" && c !== "\r") break;
      i++;
    }
  };
  const key = (path: readonly (string | number)[]) => JSON.stringify(path);

  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      else if (text[i] === "\n") fail("unterminated string");
      i++;
    }
    if (i >= text.length) fail("unterminated string");
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return fail("invalid string");
    }
  };

  const value = (path: (string | number)[]): unknown => {
    space();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      space();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        space();
        if (text[i] !== '"') fail("expected a member name");
        const at = here();
        const name = string();
        positions.set(key([...path, name]), at);
        space();
        if (text[i] !== ":") fail("expected `:`");
        i++;
        out[name] = value([...path, name]);
        space();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return out;
        } else fail("expected `,` or `}`");
      }
    }
    if (c === "[") {
      i++;
      const out: unknown[] = [];
      space();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        space();
        positions.set(key([...path, out.length]), here());
        out.push(value([...path, out.length]));
        space();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return out;
        } else fail("expected `,` or `]`");
      }
    }
    if (c === '"') return string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (literal === null) return fail(i >= text.length ? "unexpected end of input" : "unexpected character");
    i += literal[0].length;
    return JSON.parse(literal[0]);
  };

  if (text.charCodeAt(0) === 0xfeff) {
    i = 1;
    lineStart = 1;
  }
  space();
  positions.set(key([]), here());
  const parsed = value([]);
  space();
  if (i < text.length) fail("unexpected text after the JSON value");
  return { value: parsed, locate: (path) => positions.get(key(path)) };
}
