/**
 * Running a rule natively, under `node --test`, with no component build: a
 * Node implementation of the host (stat, glob and reads confined to the
 * workspace; `exec` through `child_process` with the host's refusals for an
 * undeclared or ungranted program, its scrubbed environment, deadline and
 * output cap) and a temporary workspace to run rules against.
 *
 * ```ts
 * const ws = TestWorkspace.create();
 * ws.write("package.json", '{"name": "x"}');
 * const outcome = await ws.run(rule, { required: ["name"] });
 * assert.equal(outcome.passed, true);
 * ```
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { type Command, ExecError, type Output } from "./exec.ts";
import type { Outcome } from "./finding.ts";
import { type Entry, type Host, type LogLevel, PathError, normalizePath } from "./host.ts";
import { type Baseline, type CheckInfo, Context, type Rule, ruleInputs, runRule } from "./rule.ts";

/** Environment variables a program gets from the host's own (as the host passes them). */
const BASE_ENV = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR"];
/** Environment variables a rule may set without a workspace grant. */
const RULE_SETTABLE_ENV = ["NO_COLOR", "CARGO_TERM_COLOR", "PYTHONDONTWRITEBYTECODE", "RUST_BACKTRACE"];

/** What a native run lets a rule execute: what the host would grant. */
export interface ExecPolicy {
  /** The rule, for messages. */
  rule: string;
  /** Programs the rule declares (`exec:<program>`; `exec:*` covers all). */
  declared: string[];
  /** Programs the workspace grants. */
  granted: string[];
  /** Extra environment variable names passed through and settable. */
  env?: string[];
  /** Longest a command may run, in milliseconds (default 600 000). */
  maxTimeoutMs?: number;
  /** Most bytes kept of stdout and of stderr, each (default 4 MiB). */
  maxOutputBytes?: number;
}

/** The policy for `rule` with `granted` programs granted, as a workspace's `[exec] allow` would. */
export function policyFor(rule: Rule<unknown>, granted: readonly string[] = []): ExecPolicy {
  return {
    rule: rule.id,
    declared: rule.capabilities.filter((c) => c.startsWith("exec:")).map((c) => c.slice("exec:".length)),
    granted: [...granted],
  };
}

function isProgramName(program: string): boolean {
  return program !== "" && !/[/\\]/.test(program) && program !== "." && program !== "..";
}

function findOnPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, program);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function cut(bytes: Buffer | null, cap: number): [string, boolean] {
  const all = bytes ?? Buffer.alloc(0);
  return [all.subarray(0, cap).toString("utf8"), all.length > cap];
}

/** Glob syntax the host reads: `**` crosses directories, `*` and `?` do not, `[...]` and `{a,b}`. */
function globRegex(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*" && pattern[i + 1] === "*") {
      const slash = pattern[i + 2] === "/";
      out += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) throw new Error(`unclosed \`[\` in \`${pattern}\``);
      const body = pattern.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
      out += `[${body}]`;
      i = end;
    } else if (c === "{") {
      const end = pattern.indexOf("}", i + 1);
      if (end < 0) throw new Error(`unclosed \`{\` in \`${pattern}\``);
      out += `(?:${pattern
        .slice(i + 1, end)
        .split(",")
        .map((alt) => globRegex(alt).source.slice(1, -1))
        .join("|")})`;
      i = end;
    } else out += c.replace(/[.+^$()|\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/**
 * The host, natively: every path is confined to `root` exactly as the host
 * confines it, and `exec` follows `policy`.
 */
export class NativeHost implements Host {
  /** Log lines the rule wrote, for assertions. */
  readonly logs: { level: LogLevel; message: string }[] = [];
  private readonly root: string;

  constructor(
    root: string,
    private readonly policy: ExecPolicy,
  ) {
    this.root = fs.realpathSync(root);
  }

  /** The absolute path of a workspace-relative one, or the error the host would give. */
  private resolve(rel: string): string | PathError {
    const normal = normalizePath(rel);
    if (normal === undefined) return new PathError("outside-workspace", rel);
    const full = path.join(this.root, normal);
    let real: string;
    try {
      real = fs.realpathSync(full);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        // A dangling link that points outside is outside; one inside is missing.
        try {
          const target = fs.readlinkSync(full);
          const resolved = path.resolve(path.dirname(full), target);
          if (!resolved.startsWith(this.root + path.sep)) return new PathError("outside-workspace", rel);
        } catch {
          // not a link
        }
        return new PathError("not-found", rel);
      }
      return new PathError("io", rel, (e as Error).message);
    }
    if (real !== this.root && !real.startsWith(this.root + path.sep)) return new PathError("outside-workspace", rel);
    return real;
  }

  log(level: LogLevel, message: string): void {
    this.logs.push({ level, message });
  }

  statMany(paths: readonly string[]): (Entry | PathError)[] {
    return paths.map((rel) => {
      const real = this.resolve(rel);
      if (real instanceof PathError) return real;
      try {
        const link = fs.lstatSync(path.join(this.root, normalizePath(rel) ?? "."));
        const target = fs.statSync(real);
        return {
          kind: target.isFile() ? "file" : target.isDirectory() ? "directory" : "other",
          size: target.size,
          isSymlink: link.isSymbolicLink(),
        };
      } catch (e) {
        return new PathError("io", rel, (e as Error).message);
      }
    });
  }

  glob(pattern: string, limit: number): string[] {
    if (normalizePath(pattern) === undefined) throw new Error(`\`${pattern}\` leads outside the workspace`);
    const regex = globRegex(pattern.replace(/^\.\//, ""));
    const found: string[] = [];
    const walk = (dir: string, rel: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
        if (regex.test(relPath)) found.push(relPath);
        // Symlinked directories are not descended into, as in the host.
        if (entry.isDirectory()) walk(path.join(dir, entry.name), relPath);
      }
    };
    walk(this.root, "");
    return found.sort().slice(0, limit);
  }

  readFile(rel: string): Uint8Array {
    const real = this.resolve(rel);
    if (real instanceof PathError) throw real;
    try {
      return new Uint8Array(fs.readFileSync(real));
    } catch (e) {
      throw new PathError("io", rel, (e as Error).message);
    }
  }

  exec(command: Command): Output {
    const { program } = command;
    const policy = this.policy;
    if (!isProgramName(program)) {
      throw new ExecError("failed", `\`${program}\` is not a program name; give a name such as \`npm\`, found on PATH`);
    }
    if (!policy.declared.some((p) => p === "*" || p === program)) {
      throw new ExecError(
        "not-declared",
        `rule \`${policy.rule}\` asked to run \`${program}\` but does not declare the capability \`exec:${program}\``,
      );
    }
    if (!policy.granted.includes(program)) {
      throw new ExecError(
        "not-granted",
        `rule \`${policy.rule}\` needs to run \`${program}\`, which this workspace has not granted to it; to allow it, add \`"${program}"\` to \`allow\` under \`[exec]\` in checkrail.toml (e.g. \`[exec]\` then \`allow = ["${program}"]\`)`,
      );
    }
    const executable = findOnPath(program);
    if (executable === undefined) {
      throw new ExecError("not-found", `\`${program}\` was not found on PATH (${process.env.PATH ?? ""}); install it or put it on PATH`);
    }
    let cwd = this.root;
    if (command.cwd !== undefined) {
      const real = this.resolve(command.cwd);
      if (real instanceof PathError) {
        throw new ExecError(
          "failed",
          real.kind === "outside-workspace"
            ? `working directory \`${command.cwd}\` leads outside the workspace`
            : `working directory \`${command.cwd}\`: ${real.message}`,
        );
      }
      cwd = real;
    }
    const env: Record<string, string> = {};
    const passed = [...BASE_ENV, ...(policy.env ?? [])];
    for (const name of passed) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    for (const [name, value] of command.env ?? []) {
      if (!RULE_SETTABLE_ENV.includes(name) && !(policy.env ?? []).includes(name)) {
        throw new ExecError(
          "failed",
          `rule \`${policy.rule}\` may not set the environment variable \`${name}\`; the workspace can allow it with \`env = ["${name}"]\` under \`[exec]\` in checkrail.toml`,
        );
      }
      env[name] = value;
    }
    const maxTimeout = policy.maxTimeoutMs ?? 600_000;
    const timeout = Math.min(command.timeoutMs ?? maxTimeout, maxTimeout);
    const cap = policy.maxOutputBytes ?? 4 << 20;
    const started = Date.now();
    const run = spawnSync(executable, command.args ?? [], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout,
      killSignal: "SIGKILL",
      // Keep reading past the cap so the program is not killed for talking.
      maxBuffer: cap * 4 + (1 << 20),
    });
    const durationMs = Date.now() - started;
    const runError = run.error as NodeJS.ErrnoException | undefined;
    const timedOut = runError?.code === "ETIMEDOUT";
    if (runError !== undefined && !timedOut && runError.code !== "ENOBUFS") {
      throw new ExecError(
        runError.code === "ENOENT" ? "not-found" : "failed",
        `\`${program}\` could not be started: ${runError.message}`,
      );
    }
    const [stdout, stdoutTruncated] = cut(run.stdout, cap);
    const [stderr, stderrTruncated] = cut(run.stderr, cap);
    return {
      exitCode: run.status ?? undefined,
      timedOut,
      stdout,
      stderr,
      stdoutTruncated: stdoutTruncated || runError?.code === "ENOBUFS",
      stderrTruncated,
      durationMs,
    };
  }

  scratchDir(): string {
    const rel = `.checkrail/scratch/native-${process.pid}-${NativeHost.next++}`;
    fs.mkdirSync(path.join(this.root, rel), { recursive: true });
    return rel;
  }

  private static next = 0;
}

/** Options of a native run. */
export interface RunOptions extends CheckInfo {
  /** Programs the workspace grants (the rule must still declare them). */
  grant?: readonly string[];
  /** The whole exec policy, instead of `grant`. */
  policy?: ExecPolicy;
}

/** A temporary workspace to run rules against natively; removed by {@link TestWorkspace.remove}. */
export class TestWorkspace {
  private constructor(
    /** Its absolute path. */
    readonly root: string,
  ) {}

  /** A fresh, empty workspace in the system's temporary directory. */
  static create(): TestWorkspace {
    return new TestWorkspace(fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "checkrail-ts-"))));
  }

  /** Writes a workspace file (creating its directories); returns the workspace. */
  write(rel: string, contents: string | Uint8Array): this {
    const full = path.join(this.root, rel);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, contents);
    return this;
  }

  /** The host a native run of `rule` gets here. */
  host(rule: Rule<unknown>, options: RunOptions = {}): NativeHost {
    return new NativeHost(this.root, options.policy ?? policyFor(rule, options.grant));
  }

  /** A context as the host would build it for `rule`. */
  context(rule: Rule<unknown>, options: RunOptions = {}): Context {
    return new Context(this.host(rule, options), options);
  }

  /**
   * Runs `rule` with `config` as the host would: the config checked against
   * the schema (a failure rejects, as the host refuses it), then `check`.
   */
  run<Config>(rule: Rule<Config>, config: unknown, options: RunOptions = {}): Promise<Outcome> {
    return runRule(rule, JSON.stringify(config), this.context(rule as Rule<unknown>, options));
  }

  /** The rule's input globs for `config`. */
  inputs<Config>(rule: Rule<Config>, config: unknown): string[] {
    return ruleInputs(rule, JSON.stringify(config));
  }

  /** Removes the workspace. */
  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export type { Baseline };
