/**
 * The component side: turns a defined rule into the `describe`, `inputs`
 * and `check` exports of the `checkrail:rule@0.2.0` world, over the host's
 * imports and the WASI filesystem. Only the component build imports this
 * module (`checkrail-rule build` generates the entry that does); tests use
 * `@checkrail/rule-sdk/testing`.
 *
 * @module
 */

import * as wit from "checkrail:rule/host@0.2.0";
import { getDirectories } from "wasi:filesystem/preopens@0.2.12";
import type { Descriptor } from "wasi:filesystem/types@0.2.12";

import { ExecError } from "./exec.ts";
import type { Outcome } from "./finding.ts";
import { type Host, PathError, normalizePath } from "./host.ts";
import { type Baseline, Context, type Rule, ruleInputs, runRule } from "./rule.ts";

/** The API version of the `checkrail:rule` world this SDK speaks, stamped into every component. */
export const API_VERSION = "0.2.0";

function payload(e: unknown): unknown {
  return e !== null && typeof e === "object" && "payload" in e ? (e as { payload: unknown }).payload : e;
}

function message(e: unknown): string {
  const p = payload(e);
  return typeof p === "string" ? p : p instanceof Error ? p.message : JSON.stringify(p);
}

let workspaceRoot: Descriptor | undefined;

function root(): Descriptor {
  if (workspaceRoot === undefined) {
    const preopen = getDirectories().find(([, name]) => name === ".");
    if (preopen === undefined) throw new PathError("io", ".", "the host preopened no workspace");
    workspaceRoot = preopen[0];
  }
  return workspaceRoot;
}

/** Reads a whole file through WASI, in chunks the host hands out. */
function readFile(path: string): Uint8Array {
  const rel = normalizePath(path);
  if (rel === undefined) throw new PathError("outside-workspace", path);
  let file: Descriptor;
  try {
    file = root().openAt({ symlinkFollow: true }, rel, {}, { read: true });
  } catch (e) {
    const code = message(e);
    if (code === "no-entry") throw new PathError("not-found", path);
    if (code === "not-permitted" || code === "access") throw new PathError("outside-workspace", path);
    throw new PathError("io", path, code);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0n;
  for (;;) {
    let chunk: Uint8Array;
    let end: boolean;
    try {
      [chunk, end] = file.read(1n << 20n, offset);
    } catch (e) {
      throw new PathError("io", path, message(e));
    }
    chunks.push(chunk);
    offset += BigInt(chunk.length);
    if (end || chunk.length === 0) break;
  }
  const out = new Uint8Array(Number(offset));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The host as the component sees it. */
const componentHost: Host = {
  log: (level, text) => wit.log(level, text),
  statMany: (paths) =>
    wit.statMany([...paths]).map((answer, i) => {
      const path = paths[i] ?? "";
      if (answer.tag === "ok") {
        const { kind, size, isSymlink } = answer.val;
        return { kind, size: Number(size), isSymlink };
      }
      const err = answer.val;
      return new PathError(err.tag, path, err.tag === "io" ? err.val : undefined);
    }),
  glob: (pattern, limit) => {
    try {
      return wit.glob(pattern, limit);
    } catch (e) {
      throw new Error(message(e));
    }
  },
  readFile,
  exec: (command) => {
    let out: wit.CommandOutput;
    try {
      out = wit.exec({
        program: command.program,
        args: command.args ?? [],
        cwd: command.cwd,
        env: command.env ?? [],
        timeoutMs: command.timeoutMs,
      });
    } catch (e) {
      const p = payload(e) as wit.ExecError | undefined;
      if (p !== undefined && typeof p === "object" && "tag" in p) throw new ExecError(p.tag, p.val);
      throw new ExecError("failed", message(e));
    }
    return { ...out, durationMs: Number(out.durationMs) };
  },
  scratchDir: () => {
    try {
      return wit.scratchDir();
    } catch (e) {
      throw new Error(message(e));
    }
  },
};

interface WitContext {
  workspace: string;
  workflow?: string;
  phase?: string;
  evidence?: string;
  baselines: { phase: string; facts: string }[];
}

function toWit(outcome: Outcome) {
  return {
    passed: outcome.passed,
    summary: outcome.summary,
    findings: outcome.findings.map((f) => ({
      severity: f.severity,
      message: f.message,
      path: f.path,
      line: f.line,
      column: f.column,
      fixHint: f.fixHint,
      code: f.code,
    })),
    facts: outcome.facts,
  };
}

/**
 * The three exports of the rule world for `rule`; the generated entry
 * re-exports them:
 *
 * ```ts
 * import rule from "./rule.ts";
 * export const { describe, inputs, check } = exportRule(rule);
 * ```
 */
export function exportRule<Config>(rule: Rule<Config>) {
  return {
    describe: () => ({
      id: rule.id,
      version: rule.version,
      description: rule.description,
      configSchema: JSON.stringify(rule.configSchema),
      capabilities: [...rule.capabilities],
      judgingFiles: [...rule.judgingFiles],
    }),
    inputs: (config: string) => ruleInputs(rule, config),
    // An `err` crosses the boundary as a thrown `{ payload }`: a thrown
    // `Error` would trap instead.
    check: async (config: string, context: WitContext) => {
      try {
        const parse = (text: string, what: string): unknown => {
          try {
            return JSON.parse(text);
          } catch (e) {
            throw new Error(`${what} is not JSON: ${(e as Error).message}`);
          }
        };
        const baselines: Baseline[] = context.baselines.map((b) => ({
          phase: b.phase,
          facts: parse(b.facts, `facts recorded at phase \`${b.phase}\``),
        }));
        const cx = new Context(componentHost, {
          workflow: context.workflow,
          phase: context.phase,
          evidence: context.evidence === undefined ? undefined : parse(context.evidence, "evidence"),
          baselines,
        });
        return toWit(await runRule(rule, config, cx));
      } catch (e) {
        throw { payload: e instanceof Error ? e.message : message(e) };
      }
    },
  };
}
