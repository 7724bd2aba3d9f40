/**
 * A rule's definition and what it sees while it runs.
 *
 * @module
 */

import { type Command, type Output } from "./exec.ts";
import { Outcome } from "./finding.ts";
import type { Host, LogLevel } from "./host.ts";
import { RuleError } from "./rule-error.ts";
import { type JsonSchema, validate } from "./schema.ts";
import { Workspace } from "./workspace.ts";

/** What a rule is, in one object: pass it to {@link defineRule}. */
export interface RuleDefinition<Config> {
  /** Stable id: lowercase words joined by `-`, e.g. `package-fields`. */
  id: string;
  /** Semver version of the rule; the build checks it against package.json. */
  version: string;
  /** One sentence saying what the rule checks. */
  description: string;
  /**
   * JSON Schema of the config. The host checks every config against it
   * before `check` runs; describe each property for the person configuring
   * the rule.
   */
  configSchema: JsonSchema;
  /** Capabilities the rule may ask the host for, e.g. `exec:npm`. */
  capabilities?: readonly string[];
  /**
   * Workspace-relative globs of the files that change how the rule's tool
   * judges rather than what it judges (`.npmrc`, `tsconfig.json`); the host
   * blocks when one changes in the middle of a session.
   */
  judgingFiles?: readonly string[];
  /**
   * Globs of the workspace files a check with `config` depends on; while
   * they, the config and the rule are unchanged the host reuses the last
   * outcome. Leave it out (never cache) for rules that look at evidence or
   * at anything besides files.
   */
  inputs?(config: Config): string[];
  /** Checks the workspace; throw {@link RuleError} only when the rule cannot run at all. */
  check(config: Config, cx: Context): Outcome | Promise<Outcome>;
}

/** A defined rule: its definition, frozen, with defaults filled in. */
export interface Rule<Config> extends Readonly<Required<Omit<RuleDefinition<Config>, "inputs">>> {
  inputs(config: Config): string[];
}

const ID = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** Defines a rule; throws on an id that is not lowercase words joined by `-`. */
export function defineRule<Config>(definition: RuleDefinition<Config>): Rule<Config> {
  if (!ID.test(definition.id)) {
    throw new RuleError(`define rule \`${definition.id}\`: its id must be lowercase words joined by \`-\``);
  }
  return Object.freeze({
    capabilities: [],
    judgingFiles: [],
    ...definition,
    inputs: definition.inputs ?? (() => []),
  });
}

/** Facts a rule recorded at an earlier phase of the same session. */
export interface Baseline {
  /** Id of the phase the facts were recorded at. */
  phase: string;
  /** The facts, as the rule recorded them. */
  facts: unknown;
}

/** Where and why a check runs. */
export interface CheckInfo {
  workflow?: string;
  phase?: string;
  evidence?: unknown;
  baselines?: Baseline[];
}

/** What a rule sees while it runs. */
export class Context {
  /** The workspace under check. */
  readonly workspace: Workspace;
  /** Id of the workflow, when the check runs at a checkpoint. */
  readonly workflow?: string;
  /** Id of the phase, when the check runs at a checkpoint. */
  readonly phase?: string;
  /** Evidence the agent submitted, already validated by the host. */
  readonly evidence?: unknown;
  /** Facts this rule recorded at earlier phases of the session, oldest first. */
  readonly baselines: readonly Baseline[];

  /** @internal */
  constructor(
    private readonly host: Host,
    info: CheckInfo = {},
  ) {
    this.workspace = new Workspace(host);
    this.workflow = info.workflow;
    this.phase = info.phase;
    this.evidence = info.evidence;
    this.baselines = info.baselines ?? [];
  }

  /** The facts this rule recorded most recently at `phase`, if any. */
  baseline(phase: string): unknown {
    return [...this.baselines].reverse().find((b) => b.phase === phase)?.facts;
  }

  /**
   * Runs a program in the workspace through the host. The rule must declare
   * `exec:<program>` and the workspace must grant it; otherwise this throws
   * an {@link ExecError} whose `toFinding()` says which and how to fix it.
   * `Tool.run` (in `tool`) turns refusals into the outcome to return.
   */
  exec(command: Command): Output {
    return this.host.exec(command);
  }

  /** A workspace-relative directory, created for this check, where granted programs may write files. */
  scratchDir(): string {
    try {
      return this.host.scratchDir();
    } catch (e) {
      throw new RuleError(`create a scratch directory: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Writes a line to the host's log (never to the agent). */
  log(level: LogLevel, message: string): void {
    this.host.log(level, message);
  }
}

/**
 * Parses a config and runs the rule: what both the component export and a
 * native run do. The config is checked against the schema first (the host
 * does so too), so a native test sees the refusal the host would give.
 */
export async function runRule<Config>(rule: Rule<Config>, configText: string, cx: Context): Promise<Outcome> {
  const config = parseConfig(rule, configText);
  return await rule.check(config, cx);
}

/** The rule's input globs for a config (empty when the config does not parse). */
export function ruleInputs<Config>(rule: Rule<Config>, configText: string): string[] {
  try {
    return rule.inputs(parseConfig(rule, configText));
  } catch {
    return [];
  }
}

function parseConfig<Config>(rule: Rule<Config>, configText: string): Config {
  let value: unknown;
  try {
    value = JSON.parse(configText);
  } catch (e) {
    throw new RuleError(`config of rule \`${rule.id}\` is invalid: ${(e as Error).message}`);
  }
  const problems = validate(rule.configSchema, value);
  if (problems.length > 0) {
    throw new RuleError(`config of rule \`${rule.id}\` is invalid: ${problems.join("; ")}`);
  }
  return value as Config;
}
