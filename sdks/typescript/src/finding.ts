/**
 * What a rule reports: findings and the outcome that carries them.
 *
 * @module
 */

/** How serious a finding is: `error` blocks the checkpoint, `warning` and `info` do not. */
export type Severity = "error" | "warning" | "info";

/** Where a finding points and how to fix it: every part is optional. */
export interface FindingDetails {
  /** Workspace-relative path the finding is about. */
  path?: string;
  /** 1-based line in `path`. */
  line?: number;
  /** 1-based column in `line`. */
  column?: number;
  /** What the agent should do to fix it. */
  fixHint?: string;
  /** A short stable code for the kind of finding, e.g. `missing-field`. */
  code?: string;
}

/** One thing a rule found: what is wrong, where, and how to fix it. */
export interface Finding extends FindingDetails {
  severity: Severity;
  /** What is wrong, in one sentence. */
  message: string;
}

/** A finding of any severity. */
export function finding(severity: Severity, message: string, details: FindingDetails = {}): Finding {
  const out: Finding = { severity, message };
  for (const key of ["path", "line", "column", "fixHint", "code"] as const) {
    const value = details[key];
    if (value !== undefined) (out as unknown as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** A finding that blocks the checkpoint. */
export function error(message: string, details?: FindingDetails): Finding {
  return finding("error", message, details);
}

/** A finding that is reported but does not block. */
export function warning(message: string, details?: FindingDetails): Finding {
  return finding("warning", message, details);
}

/** An informative finding. */
export function info(message: string, details?: FindingDetails): Finding {
  return finding("info", message, details);
}

/** `1 error`, `2 warnings`: a count and a word. */
export function plural(n: number | bigint, word: string): string {
  return `${n} ${word}${String(n) === "1" ? "" : "s"}`;
}

/**
 * The result of one check: passed or not, a one-line summary, the findings,
 * and facts to record with the phase. Immutable: every `with…` returns a new
 * outcome.
 */
export class Outcome {
  private constructor(
    /** Whether the check passed. */
    readonly passed: boolean,
    /** One line for humans. */
    readonly summary: string,
    /** Everything the rule found, in the order found. */
    readonly findings: readonly Finding[],
    /** Facts (JSON text) to record with this phase of the session. */
    readonly facts?: string,
  ) {}

  /** A passing outcome with no findings. */
  static pass(summary: string): Outcome {
    return new Outcome(true, summary, []);
  }

  /** A failing outcome with no findings yet; add some with {@link Outcome.withFinding}. */
  static fail(summary: string): Outcome {
    return new Outcome(false, summary, []);
  }

  /** Passes unless a finding is an error; the summary counts errors and warnings. */
  static fromFindings(findings: readonly Finding[]): Outcome {
    const count = (severity: Severity) => findings.filter((f) => f.severity === severity).length;
    const errors = count("error");
    const warnings = count("warning");
    const summary =
      errors === 0 && warnings === 0
        ? "no problems found"
        : errors === 0
          ? plural(warnings, "warning")
          : warnings === 0
            ? plural(errors, "error")
            : `${plural(errors, "error")}, ${plural(warnings, "warning")}`;
    return new Outcome(errors === 0, summary, [...findings]);
  }

  /** Replaces the summary. */
  withSummary(summary: string): Outcome {
    return new Outcome(this.passed, summary, this.findings, this.facts);
  }

  /** Adds a finding; an error finding makes the outcome fail. */
  withFinding(f: Finding): Outcome {
    return new Outcome(this.passed && f.severity !== "error", this.summary, [...this.findings, f], this.facts);
  }

  /**
   * Records `facts` (any JSON value) with this phase, for the same rule to
   * read back with `cx.baseline(phase)` at a later phase of the session.
   * Keep them small and about what the rule judged.
   */
  withFacts(facts: unknown): Outcome {
    const text = JSON.stringify(facts);
    if (text === undefined) throw new TypeError("facts must be a JSON value");
    return new Outcome(this.passed, this.summary, this.findings, text);
  }

  /** The recorded facts, parsed; `undefined` when there are none. */
  factsValue(): unknown {
    return this.facts === undefined ? undefined : JSON.parse(this.facts);
  }

  /** Findings of the given severity. */
  findingsOf(severity: Severity): Finding[] {
    return this.findings.filter((f) => f.severity === severity);
  }
}
