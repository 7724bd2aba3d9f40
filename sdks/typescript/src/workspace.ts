/**
 * The workspace a rule checks, read-only: stat, glob and read files, always
 * by workspace-relative path. Nothing outside the workspace is reachable,
 * in the component (the host confines it) and natively (the native host
 * refuses the same paths).
 *
 * @module
 */

import { type Entry, type Host, PathError } from "./host.ts";
import { RuleError } from "./rule-error.ts";

const DEFAULT_GLOB_LIMIT = 10_000;

/** The workspace under check. */
export class Workspace {
  /** @internal */
  constructor(private readonly host: Host) {}

  /** Looks at one path; throws {@link PathError}. */
  stat(path: string): Entry {
    const [answer] = this.host.statMany([path]);
    if (answer === undefined) throw new PathError("io", path, "the host gave no answer");
    if (answer instanceof PathError) throw answer;
    return answer;
  }

  /** Looks at many paths in one host call; each answer is an entry or a {@link PathError}. */
  statMany(paths: readonly string[]): (Entry | PathError)[] {
    return this.host.statMany(paths);
  }

  /** Whether something exists at `path` inside the workspace. */
  exists(path: string): boolean {
    return !(this.host.statMany([path])[0] instanceof PathError);
  }

  /** Whether `path` is a regular file (following symlinks that stay inside). */
  isFile(path: string): boolean {
    const answer = this.host.statMany([path])[0];
    return answer !== undefined && !(answer instanceof PathError) && answer.kind === "file";
  }

  /**
   * Workspace-relative paths of the files and directories matching
   * `pattern` (`src/**\/*.ts`), sorted, at most `limit`; throws
   * {@link RuleError} for a pattern the host cannot read.
   */
  glob(pattern: string, limit = DEFAULT_GLOB_LIMIT): string[] {
    try {
      return this.host.glob(pattern, limit);
    } catch (e) {
      throw new RuleError(`expand glob \`${pattern}\`: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** A file's bytes; throws {@link PathError}. */
  readBytes(path: string): Uint8Array {
    return this.host.readFile(path);
  }

  /** A file's text (UTF-8, invalid bytes replaced); throws {@link PathError}. */
  readText(path: string): string {
    return new TextDecoder().decode(this.host.readFile(path));
  }
}
