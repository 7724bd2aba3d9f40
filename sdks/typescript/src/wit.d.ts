/**
 * The imports a componentized rule sees, as componentize-js binds them: WIT
 * records are objects with camelCase fields, `u64` is a `bigint`, an
 * `option` is the value or `undefined`, a `result` returned at the top level
 * is the `ok` value or a thrown error whose `payload` is the `err` value,
 * and a nested `result` or `variant` is `{ tag, val }`.
 */

declare module "checkrail:rule/host@0.2.0" {
  export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";
  export type EntryKind = "file" | "directory" | "symlink" | "other";
  export interface Entry {
    kind: EntryKind;
    size: bigint;
    isSymlink: boolean;
  }
  export type PathError = { tag: "not-found" } | { tag: "outside-workspace" } | { tag: "io"; val: string };
  export type Result<T, E> = { tag: "ok"; val: T } | { tag: "err"; val: E };
  export interface Command {
    program: string;
    args: string[];
    cwd?: string;
    env: [string, string][];
    timeoutMs?: number;
  }
  export interface CommandOutput {
    exitCode?: number;
    timedOut: boolean;
    stdout: string;
    stderr: string;
    stdoutTruncated: boolean;
    stderrTruncated: boolean;
    durationMs: bigint;
  }
  export type ExecError =
    | { tag: "not-declared"; val: string }
    | { tag: "not-granted"; val: string }
    | { tag: "not-found"; val: string }
    | { tag: "failed"; val: string };
  export function log(level: LogLevel, message: string): void;
  export function statMany(paths: string[]): Result<Entry, PathError>[];
  /** Throws an error whose `payload` is the message. */
  export function glob(pattern: string, limit: number): string[];
  /** Throws an error whose `payload` is an {@link ExecError}. */
  export function exec(command: Command): CommandOutput;
  /** Throws an error whose `payload` is the message. */
  export function scratchDir(): string;
}

declare module "wasi:filesystem/types@0.2.12" {
  export interface DescriptorStat {
    type: string;
    size: bigint;
  }
  export class Descriptor {
    openAt(
      pathFlags: { symlinkFollow?: boolean },
      path: string,
      openFlags: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean },
      flags: { read?: boolean; write?: boolean },
    ): Descriptor;
    stat(): DescriptorStat;
    /** Throws an error whose `payload` is an error-code string, e.g. `no-entry`. */
    read(length: bigint, offset: bigint): [Uint8Array, boolean];
  }
}

declare module "wasi:filesystem/preopens@0.2.12" {
  import type { Descriptor } from "wasi:filesystem/types@0.2.12";
  export function getDirectories(): [Descriptor, string][];
}
