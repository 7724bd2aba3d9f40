/**
 * Why a rule could not run at all: not a failed check, which is an outcome
 * with findings, but a broken rule or an impossible config.
 *
 * @module
 */

/** Thrown from `check` when the rule cannot run; the message reads after "failed to". */
export class RuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RuleError";
  }
}
