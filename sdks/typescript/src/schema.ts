/**
 * The JSON Schema of a rule's config, and the subset of it a native run
 * checks a config against (the host checks the whole of it): `type`,
 * `properties`, `required`, `additionalProperties: false`, `items`, `enum`,
 * `minimum`, `maximum`, `minItems`.
 *
 * @module
 */

/** A JSON Schema (draft 2020-12), as a plain object. */
export type JsonSchema = {
  type?: JsonType | JsonType[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  [keyword: string]: unknown;
};

/** A JSON Schema type name. */
export type JsonType = "object" | "array" | "string" | "number" | "integer" | "boolean" | "null";

function typeOf(value: unknown): JsonType {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value as JsonType;
}

/** What is wrong with `value` under `schema`, one message per problem (empty: valid). */
export function validate(schema: JsonSchema, value: unknown, at = "config"): string[] {
  const problems: string[] = [];
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
    const fits = allowed.includes(actual) || (actual === "integer" && allowed.includes("number"));
    if (!fits) return [`${at} must be ${allowed.join(" or ")}, not ${actual}`];
  }
  if (schema.enum !== undefined && !schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(value))) {
    problems.push(`${at} must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at} must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at} must be at most ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      problems.push(`${at} must have at least ${schema.minItems} items`);
    }
    if (schema.items !== undefined) {
      value.forEach((item, i) => problems.push(...validate(schema.items as JsonSchema, item, `${at}[${i}]`)));
    }
  }
  if (actual === "object") {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (!(name in object)) problems.push(`${at} is missing the field \`${name}\``);
    }
    for (const [name, field] of Object.entries(object)) {
      const sub = schema.properties?.[name];
      if (sub !== undefined) problems.push(...validate(sub, field, `${at}.${name}`));
      else if (schema.additionalProperties === false) problems.push(`${at} has an unknown field \`${name}\``);
      else if (typeof schema.additionalProperties === "object") {
        problems.push(...validate(schema.additionalProperties, field, `${at}.${name}`));
      }
    }
  }
  return problems;
}
