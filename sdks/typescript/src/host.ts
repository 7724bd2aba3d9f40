/**
 * The services a rule gets from whoever runs it: the checkrail host inside
 * the component, or the native host in tests. Both speak these types.
 *
 * @module
 */

import type { Command, Output } from "./exec.ts";

/** Kind of a filesystem entry. */
export type EntryKind = "file" | "directory" | "symlink" | "other";

/** What a stat learned about one path. */
export interface Entry {
  kind: EntryKind;
  /** Size in bytes (for a symlink: of its target, when inside the workspace). */
  size: number;
  /** True when the path is a symlink, whatever `kind` resolved to. */
  isSymlink: boolean;
}

/** Why a path could not be looked at: the `path-error` variant of the WIT. */
export type PathErrorKind = "not-found" | "outside-workspace" | "io";

/** Why a path could not be looked at. */
export class PathError extends Error {
  constructor(
    readonly kind: PathErrorKind,
    readonly path: string,
    readonly reason?: string,
  ) {
    super(
      kind === "not-found"
        ? `\`${path}\` does not exist`
        : kind === "outside-workspace"
          ? `\`${path}\` is outside the workspace`
          : `\`${path}\`: ${reason ?? "i/o error"}`,
    );
    this.name = "PathError";
  }
}

/** Log verbosity. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

/** The `host` interface of the rule world, in SDK types, plus reading a file. */
export interface Host {
  /** Writes a line to the host's log (never to the agent). */
  log(level: LogLevel, message: string): void;
  /** Looks at many workspace-relative paths in one call. */
  statMany(paths: readonly string[]): (Entry | PathError)[];
  /** Expands a glob against the workspace: at most `limit` paths, sorted; throws a message. */
  glob(pattern: string, limit: number): string[];
  /** Reads a workspace file's bytes. */
  readFile(path: string): Uint8Array;
  /** Runs a program; throws {@link ExecError} when it was not run. */
  exec(command: Command): Output;
  /** A workspace-relative directory created for this check; throws a message. */
  scratchDir(): string;
}

/**
 * A workspace-relative path normalized (`a/./b/../c` is `a/c`, the root is
 * `.`), or `undefined` when it is absolute or climbs above the root.
 */
export function normalizePath(path: string): string | undefined {
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) return undefined;
  const parts: string[] = [];
  for (const part of path.split(/[/\\]/)) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(part);
  }
  return parts.length === 0 ? "." : parts.join("/");
}
