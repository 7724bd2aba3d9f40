/**
 * Write checkrail validation rules in TypeScript.
 *
 * A rule is one {@link defineRule} call: an id, a version, a description,
 * the config's JSON Schema and a `check` that reads the workspace and
 * returns an {@link Outcome} of findings. `checkrail-rule build` turns it
 * into a WebAssembly component for the `checkrail:rule@0.2.0` world;
 * `@checkrail/rule-sdk/testing` runs it natively under `node --test`.
 *
 * ```ts
 * import { defineRule, error, Outcome } from "@checkrail/rule-sdk";
 *
 * export default defineRule<{ path: string }>({
 *   id: "has-changelog",
 *   version: "0.1.0",
 *   description: "The project keeps a changelog.",
 *   configSchema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
 *   check: (config, cx) =>
 *     Outcome.fromFindings(
 *       cx.workspace.exists(config.path) ? [] : [error(`\`${config.path}\` is missing`, { path: config.path, fixHint: "add one" })],
 *     ),
 * });
 * ```
 *
 * @module
 */

export { type Command, ExecError, type ExecErrorKind, type Output, codes, succeeded, tailNote } from "./exec.ts";
export {
  type Finding,
  type FindingDetails,
  Outcome,
  type Severity,
  error,
  finding,
  info,
  plural,
  warning,
} from "./finding.ts";
export { type Entry, type EntryKind, type LogLevel, PathError, type PathErrorKind, normalizePath } from "./host.ts";
export { JsonSyntaxError, type LocatedJson, type Position, parseJson } from "./json.ts";
export { type Baseline, Context, type Rule, type RuleDefinition, defineRule } from "./rule.ts";
export { RuleError } from "./rule-error.ts";
export type { JsonSchema, JsonType } from "./schema.ts";
export * as tool from "./tool.ts";
export { Workspace } from "./workspace.ts";
