/**
 * `package-fields`: a project's package.json has the fields the project
 * requires, a license from an allowed list, and (on request) `engines`.
 * Each finding points at the line of the field it is about, or at the top
 * of the object that lacks it.
 *
 * @module
 */

import {
  type Finding,
  type JsonSchema,
  JsonSyntaxError,
  Outcome,
  PathError,
  defineRule,
  error,
  parseJson,
} from "@checkrail/rule-sdk";

/** The config of `package-fields`. */
export interface Config {
  /** Path of the package.json to check, relative to the workspace root. */
  path?: string;
  /** Top-level fields that must be present and non-empty. */
  required?: string[];
  /** SPDX identifiers the `license` field may take; empty allows any. */
  license_allowed?: string[];
  /** Whether `engines` must name at least one engine (e.g. `node`). */
  require_engines?: boolean;
}

const DEFAULT_REQUIRED = ["name", "version", "license"];

const configSchema: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "Config",
  description: "The config of `package-fields`.",
  type: "object",
  properties: {
    path: {
      description: "Path of the package.json to check, relative to the workspace root.",
      type: "string",
      default: "package.json",
    },
    required: {
      description: "Top-level fields that must be present and non-empty.",
      type: "array",
      items: { type: "string" },
      default: DEFAULT_REQUIRED,
    },
    license_allowed: {
      description: "SPDX identifiers the `license` field may take (`MIT`, `Apache-2.0`); empty allows any.",
      type: "array",
      items: { type: "string" },
      default: [],
    },
    require_engines: {
      description: "Whether `engines` must name at least one engine, such as `node`.",
      type: "boolean",
      default: false,
    },
  },
  additionalProperties: false,
};

function isEmpty(value: unknown): boolean {
  return (
    value === null ||
    value === "" ||
    (Array.isArray(value) && value.length === 0) ||
    (typeof value === "object" && value !== null && Object.keys(value).length === 0)
  );
}

/** The SPDX identifiers a license expression names (`(MIT OR Apache-2.0)` names two). */
function licenseIds(expression: string): string[] {
  return expression
    .replace(/[()]/g, " ")
    .split(/\s+/)
    .filter((word) => word !== "" && !["AND", "OR", "WITH"].includes(word));
}

export default defineRule<Config>({
  id: "package-fields",
  version: "0.1.0",
  description:
    "package.json has the fields the project requires, a license from an allowed list and, on request, `engines`.",
  configSchema,
  inputs: (config) => [config.path ?? "package.json"],
  check(config, cx) {
    const path = config.path ?? "package.json";
    const required = config.required ?? DEFAULT_REQUIRED;
    const allowed = config.license_allowed ?? [];

    let text: string;
    try {
      text = cx.workspace.readText(path);
    } catch (e) {
      if (!(e instanceof PathError)) throw e;
      const fixHint =
        e.kind === "not-found"
          ? `create \`${path}\` with at least ${required.map((f) => `\`${f}\``).join(", ") || "a name"} (\`npm init -y\`)`
          : `point \`path\` at a package.json inside the workspace`;
      return Outcome.fromFindings([error(e.message, { path, fixHint, code: e.kind === "not-found" ? "missing-file" : "unreadable-file" })]);
    }

    let located: ReturnType<typeof parseJson>;
    try {
      located = parseJson(text);
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
      return Outcome.fromFindings([
        error(`\`${path}\` is not valid JSON: ${e.message}`, {
          path,
          ...e.position,
          fixHint: "fix the JSON syntax at that position",
          code: "invalid-json",
        }),
      ]);
    }
    const pkg = located.value;
    const top = located.locate([]) ?? { line: 1, column: 1 };
    if (pkg === null || typeof pkg !== "object" || Array.isArray(pkg)) {
      return Outcome.fromFindings([
        error(`\`${path}\` is not a JSON object`, { path, ...top, fixHint: "make it an object of fields", code: "not-an-object" }),
      ]);
    }
    const fields = pkg as Record<string, unknown>;
    const at = (...where: (string | number)[]) => located.locate(where) ?? top;
    const findings: Finding[] = [];

    for (const field of required) {
      if (!(field in fields)) {
        findings.push(
          error(`\`${path}\` has no \`${field}\` field`, {
            path,
            ...top,
            fixHint: `add a \`"${field}"\` field to \`${path}\``,
            code: "missing-field",
          }),
        );
      } else if (isEmpty(fields[field])) {
        findings.push(
          error(`\`${field}\` in \`${path}\` is empty`, {
            path,
            ...at(field),
            fixHint: `give \`"${field}"\` a value`,
            code: "empty-field",
          }),
        );
      }
    }

    const license = fields.license;
    if (allowed.length > 0 && license !== undefined) {
      if (typeof license !== "string") {
        findings.push(
          error(`\`license\` in \`${path}\` is not an SPDX expression string`, {
            path,
            ...at("license"),
            fixHint: `set \`"license"\` to one of ${allowed.map((l) => `\`${l}\``).join(", ")}`,
            code: "license-not-allowed",
          }),
        );
      } else if (!isEmpty(license)) {
        const refused = licenseIds(license).filter((id) => !allowed.includes(id));
        if (refused.length > 0) {
          findings.push(
            error(`license \`${license}\` in \`${path}\` is not allowed (${refused.map((l) => `\`${l}\``).join(", ")})`, {
              path,
              ...at("license"),
              fixHint: `use one of ${allowed.map((l) => `\`${l}\``).join(", ")}, or ask a human to extend \`license_allowed\``,
              code: "license-not-allowed",
            }),
          );
        }
      }
    }

    if (config.require_engines === true) {
      const engines = fields.engines;
      if (engines === undefined || engines === null || typeof engines !== "object" || Array.isArray(engines) || isEmpty(engines)) {
        findings.push(
          error(`\`${path}\` does not say which engines it runs on`, {
            path,
            ...(engines === undefined ? top : at("engines")),
            fixHint: `add \`"engines": { "node": ">=20" }\` (the versions the project supports) to \`${path}\``,
            code: "missing-engines",
          }),
        );
      }
    }

    const outcome = Outcome.fromFindings(findings);
    return findings.length === 0
      ? outcome.withSummary(`\`${path}\` has ${required.length === 0 ? "what it needs" : required.map((f) => `\`${f}\``).join(", ")}`)
      : outcome;
  },
});
