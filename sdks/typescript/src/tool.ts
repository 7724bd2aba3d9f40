/**
 * Running a granted tool and judging what it printed, so that a toolchain is
 * only two things: how to build its command line and how to read its
 * output. The same layer, messages and {@link codes} as the Rust SDK's
 * `checkrail_sdk::tool`.
 *
 * - {@link workspaceDir} checks a config's `cwd` (relative, never climbing out).
 * - {@link Tool.run} runs a command through `cx.exec`; a refusal (not
 *   declared, not granted, not installed) comes back as the failing outcome
 *   to return, otherwise a {@link Ran} whose {@link Ran.problems} reports a
 *   timeout, a kill, a failure nothing in the output explains, output that
 *   stopped early and output the host cut.
 *
 * @module
 */

import { type Command, ExecError, type Output, codes, succeeded, tailNote } from "./exec.ts";
import { type Finding, Outcome, type Severity, error, finding, plural } from "./finding.ts";
import { normalizePath } from "./host.ts";
import type { Context } from "./rule.ts";
import { RuleError } from "./rule-error.ts";

export { codes, plural };

const TAIL_LINES = 20;
const TAIL_CHARS = 2000;

/** `text`, cut to `max` characters with a trailing `…`. */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join("")}…`;
}

/** The command line as a shell would read it back, for messages. */
export function quoted(command: Command): string {
  return [command.program, ...(command.args ?? [])]
    .map((part) =>
      part !== "" && !/[\s'"\\$`;&|<>(){}*?!#~]/.test(part) ? part : `'${part.replaceAll("'", "'\\''")}'`,
    )
    .join(" ");
}

/**
 * A config's working directory, normalized (`.` for the root); throws
 * {@link RuleError} when it is absolute or climbs out of the workspace.
 */
export function workspaceDir(dir: string | undefined): string {
  const normal = normalizePath(dir ?? ".");
  if (normal === undefined) {
    throw new RuleError(
      `\`cwd\` \`${dir}\` leads outside the workspace; give a directory relative to the workspace root, such as \`packages/app\`, without a leading \`/\` or a \`..\` that climbs above the root`,
    );
  }
  return normal;
}

/** How the rule judged the output, for {@link Ran.problems}. */
export interface Judged {
  /** The rule found what explains a failing exit (default false). */
  explained?: boolean;
  /** The output covered everything the tool was given (default true). */
  complete?: boolean;
  /** Severity of a finding about cut output; `null` for none (default warning). */
  truncated?: Severity | null;
  /** The rule reads stderr too, so a cut stderr matters (default true). */
  readsStderr?: boolean;
}

/** The result of {@link Tool.run}: what ran, or the outcome explaining why nothing did. */
export type RunResult = { ok: true; ran: Ran } | { ok: false; outcome: Outcome };

/** A tool the rule runs: a label for messages, a directory, what to do after a fix. */
export class Tool {
  private again = "check again";
  private slow?: string;

  constructor(
    /** How messages name the tool, e.g. `npm test`. */
    readonly label: string,
    /** Workspace-relative directory it runs in (see {@link workspaceDir}). */
    readonly cwd = ".",
  ) {}

  /** What the agent does after fixing something (default `check again`). */
  then(again: string): this {
    this.again = again;
    return this;
  }

  /** The fix hint of a timeout finding. */
  slowHint(hint: string): this {
    this.slow = hint;
    return this;
  }

  /** @internal */
  get againText(): string {
    return this.again;
  }

  /** @internal */
  get slowHintText(): string | undefined {
    return this.slow;
  }

  /** ` in `dir`` for messages, or nothing for the root. */
  inDir(): string {
    return this.cwd === "." ? "" : ` in \`${this.cwd}\``;
  }

  /** Runs `command` in the tool's directory; a refusal becomes the outcome to return. */
  run(cx: Context, command: Command): RunResult {
    const cmd = this.cwd === "." ? command : { ...command, cwd: this.cwd };
    try {
      return { ok: true, ran: new Ran(this, cx.exec(cmd)) };
    } catch (e) {
      if (e instanceof ExecError) return { ok: false, outcome: this.refused(cmd.program, e) };
      throw e;
    }
  }

  /** The failing outcome for a refused run. */
  refused(program: string, e: ExecError): Outcome {
    const why = {
      "not-granted": "it is not granted in checkrail.toml",
      "not-declared": "the rule may not run it",
      "not-found": "it is not installed",
      failed: "it could not be started",
    }[e.kind];
    return Outcome.fromFindings([e.toFinding()]).withSummary(`\`${program}\` did not run: ${why}`);
  }
}

/** A tool run that finished (or was stopped): its output and the findings about the run itself. */
export class Ran {
  constructor(
    private readonly tool: Tool,
    readonly output: Output,
  ) {}

  /** `` `label` in `dir` `` for messages. */
  name(): string {
    return `\`${this.tool.label}\`${this.tool.inDir()}`;
  }

  /** `exit code 1`, or why there is none. */
  exit(): string {
    if (this.output.exitCode !== undefined) return `exit code ${this.output.exitCode}`;
    return this.output.timedOut ? "no exit code (stopped at its deadline)" : "no exit code (killed by a signal)";
  }

  /** The end of the output, for a finding. */
  tail(): string {
    return tailNote(this.output, TAIL_LINES, TAIL_CHARS);
  }

  /** The findings about the run itself, in the order a reader needs them. */
  problems(judged: Judged = {}): Finding[] {
    const { explained = false, complete = true, truncated = "warning", readsStderr = true } = judged;
    const out: Finding[] = [];
    const timeout = this.timeout();
    if (timeout) out.push(timeout);
    else if (this.output.exitCode === undefined) out.push(this.killed());
    else if (!succeeded(this.output) && !explained) out.push(this.failed("a problem the rule could read"));
    else if (!complete) out.push(this.incomplete());
    if (truncated !== null) {
      const cut = this.truncated(truncated, readsStderr);
      if (cut) out.push(cut);
    }
    return out;
  }

  /** A finding for a run stopped at its deadline, if it was. */
  timeout(): Finding | undefined {
    if (!this.output.timedOut) return undefined;
    const hint =
      this.tool.slowHintText ??
      "find what makes it hang or run this long (see the output) and fix it, narrow the run with `args` or `cwd`, or raise `timeout_ms` under `[exec]` in checkrail.toml";
    const secs = Math.floor(this.output.durationMs / 1000);
    return error(`${this.name()} was stopped at its deadline after ${secs}s, before it finished${this.tail()}`, {
      fixHint: hint,
      code: codes.TIMEOUT,
    });
  }

  /** A finding for a run killed by a signal. */
  killed(): Finding {
    return error(`${this.name()} was killed before it finished${this.tail()}`, {
      fixHint: `find why it crashed (see the output), fix it and ${this.tool.againText}`,
      code: codes.TOOL_KILLED,
    });
  }

  /** A finding for a failing run nothing read from the output explains, naming `what` was missing. */
  failed(what: string): Finding {
    const first = [this.output.stderr, this.output.stdout]
      .flatMap((t) => t.split(/\r?\n/))
      .map((l) => l.trim())
      .find((l) => l.startsWith("error") || l.includes("Error"));
    const fixHint =
      first !== undefined
        ? `fix what the output reports (first: \`${clip(first, 200)}\`) and ${this.tool.againText}`
        : `run ${this.name()} yourself, fix what it reports and ${this.tool.againText}`;
    return error(`${this.name()} failed (${this.exit()}) without ${what}${this.tail()}`, {
      fixHint,
      code: codes.TOOL_FAILED,
    });
  }

  /** A finding for output that stopped before covering everything. */
  incomplete(): Finding {
    return error(
      `${this.name()} stopped before reporting on everything it was given, so the result is unknown${this.tail()}`,
      { fixHint: `find why it stopped (see the output) and ${this.tool.againText}`, code: codes.INCOMPLETE_OUTPUT },
    );
  }

  /** A finding for output the host cut, if it did. */
  truncated(severity: Severity, stderr: boolean): Finding | undefined {
    if (!this.output.stdoutTruncated && !(stderr && this.output.stderrTruncated)) return undefined;
    return finding(
      severity,
      `${this.name()} printed more than the host keeps, so its output was cut and some of what it reported is missing`,
      {
        fixHint: `fix what is reported and ${this.tool.againText}, narrow the run with \`args\` or \`cwd\`, or raise \`max_output_bytes\` under \`[exec]\` in checkrail.toml`,
        code: codes.OUTPUT_TRUNCATED,
      },
    );
  }

  /** A finding for lines of output the rule cannot read. */
  unreadable(lines: readonly string[], hint: string): Finding {
    const example = lines[0] !== undefined ? clip(lines[0], 200) : "";
    return error(`${this.name()} printed ${plural(lines.length, "line")} the rule cannot read, e.g. \`${example}\``, {
      fixHint: hint,
      code: codes.OUTPUT_UNREADABLE,
    });
  }
}
