import { lstat, realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/**
 * `path` with every symlink resolved, for a path that need not exist: the deepest part that
 * exists goes through `fs.realpath` and the missing rest is appended. Null when a part exists
 * but cannot be resolved (a broken or looping link, no permission): nothing to judge it by.
 */
export async function resolveSymlinks(path: string): Promise<string | null> {
  const missing: string[] = [];
  for (let at = resolve(path); ; at = dirname(at)) {
    try {
      return join(await realpath(at), ...missing);
    } catch {
      const exists = await lstat(at).then(
        () => true,
        () => false,
      );
      if (exists || dirname(at) === at) return null;
      missing.unshift(basename(at));
    }
  }
}
