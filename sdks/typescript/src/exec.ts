/**
 * Running programs through the host: a rule declares the programs it may ask
 * for (`exec:<program>` in its `capabilities`), the workspace owner grants
 * them in `checkrail.toml`, and only then does `cx.exec` run them.
 *
 * @module
 */

import { type Finding, error } from "./finding.ts";

/** The finding codes of a tool run, the same in every rule (and in the Rust SDK). */
export const codes = {
  /** The rule does not list `exec:<program>` among its capabilities. */
  EXEC_NOT_DECLARED: "exec-not-declared",
  /** The workspace's `checkrail.toml` does not grant the program (or refuses an argument). */
  EXEC_NOT_GRANTED: "exec-not-granted",
  /** The program is granted but not installed (not on the host's PATH). */
  TOOL_NOT_FOUND: "tool-not-found",
  /** The program could not be started for another reason. */
  EXEC_FAILED: "exec-failed",
  /** The program ran past its deadline and was stopped. */
  TIMEOUT: "timeout",
  /** The program was killed by a signal before it finished. */
  TOOL_KILLED: "tool-killed",
  /** The program failed and nothing the rule read from its output says why. */
  TOOL_FAILED: "tool-failed",
  /** The program stopped before reporting on everything it was given. */
  INCOMPLETE_OUTPUT: "incomplete-output",
  /** The program printed more than the host keeps; the rest was cut. */
  OUTPUT_TRUNCATED: "output-truncated",
  /** The program printed output the rule cannot read. */
  OUTPUT_UNREADABLE: "output-unreadable",
} as const;

/** A program to run in the workspace. */
export interface Command {
  /** Program name, looked up on PATH (never a path). */
  program: string;
  args?: string[];
  /** Working directory relative to the workspace root (default: the root). */
  cwd?: string;
  /** Extra environment variables (only names the workspace allows). */
  env?: [string, string][];
  /** Deadline in milliseconds; never beyond the rule's own. */
  timeoutMs?: number;
}

/** What a finished program left behind. */
export interface Output {
  /** Exit code; `undefined` when killed (timeout or signal). */
  exitCode?: number;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Output beyond the workspace's cap was dropped. */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
}

/** Exited with status 0. */
export function succeeded(output: Output): boolean {
  return output.exitCode === 0;
}

/**
 * `; its output ends with: …`: the last `lines` non-blank lines of stderr
 * (of stdout when stderr is blank), at most `chars` characters, for a
 * finding about a program that failed; `; it printed nothing` when both are
 * blank.
 */
export function tailNote(output: Output, lines = 20, chars = 2000): string {
  const source = output.stderr.trim() === "" ? output.stdout : output.stderr;
  const kept = source
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  if (kept.length === 0) return "; it printed nothing";
  const all = [...kept.slice(Math.max(0, kept.length - lines)).join("\n")];
  return `; its output ends with:\n${all.slice(Math.max(0, all.length - chars)).join("")}`;
}

/** Why a program was not run: the `exec-error` variant of the WIT. */
export type ExecErrorKind = "not-declared" | "not-granted" | "not-found" | "failed";

/** Why a program was not run; {@link ExecError.toFinding} says how to fix it. */
export class ExecError extends Error {
  constructor(
    readonly kind: ExecErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "ExecError";
  }

  /** A blocking finding explaining the refusal and how to fix it, for a rule to return as is. */
  toFinding(): Finding {
    const [code, hint] = {
      "not-declared": [codes.EXEC_NOT_DECLARED, "the rule must list the program in its capabilities"],
      "not-granted": [codes.EXEC_NOT_GRANTED, "a human must grant it in checkrail.toml (see the message)"],
      "not-found": [codes.TOOL_NOT_FOUND, "install the program or put it on PATH"],
      failed: [codes.EXEC_FAILED, "see the message"],
    }[this.kind];
    let fixHint = hint;
    if (this.kind === "not-granted") {
      const at = this.message.indexOf("add ");
      if (at >= 0) fixHint = this.message.slice(at);
    }
    return error(this.message, { fixHint, code });
  }
}
