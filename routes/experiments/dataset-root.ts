import type { DatasetRootPolicy } from "../../src/services.ts";
import { ProblemError } from "../common/problem.ts";

/**
 * Where a spec's `dataset.root` may point: a relative root is taken from the data folder, and
 * the resolved folder must lie under one of the allowed ones, first by its text and then, where
 * the runtime resolves symlinks (Node: `policy.realpath`), by where it really leads, so a
 * symlink inside an allowed folder cannot point outside. A path that does not exist is judged
 * by its deepest existing folder, so the answer never says whether it exists.
 * POSIX paths: the trainers run on Linux.
 */

/** Where no policy is configured (tests, Workers): relative roots that stay in the data folder. */
const DEFAULT_POLICY: DatasetRootPolicy = { dataDir: "/data", allowed: ["/data"] };

function resolvePosix(base: string, path: string): string {
  const parts: string[] = [];
  for (const part of `${path.startsWith("/") ? "" : base}/${path}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

const isUnder = (path: string, folder: string) => {
  const root = resolvePosix("/", folder);
  return path === root || path.startsWith(root === "/" ? "/" : `${root}/`);
};

export async function checkDatasetRoot(
  root: string | undefined,
  policy: DatasetRootPolicy = DEFAULT_POLICY,
): Promise<void> {
  if (root === undefined) return;
  const resolved = resolvePosix(policy.dataDir, root);
  const inside =
    !root.includes("\0") &&
    policy.allowed.some((folder) => isUnder(resolved, folder)) &&
    (await leadsInside(resolved, policy));
  if (!inside) {
    throw new ProblemError("validation_failed", "the body is not valid", [
      {
        location: "body",
        path: "dataset.root",
        message:
          "must be a folder under the server's dataset roots (relative paths are taken from its data folder)",
      },
    ]);
  }
}

/** Where symlinks are resolved: whether the real path lies under an allowed folder (as written, or its real path). */
async function leadsInside(path: string, policy: DatasetRootPolicy): Promise<boolean> {
  const { realpath } = policy;
  if (!realpath) return true;
  const real = await realpath(path);
  if (real === null) return false;
  const realRoots = await Promise.all(policy.allowed.map((folder) => realpath(resolvePosix("/", folder))));
  return [...policy.allowed, ...realRoots].some((folder) => folder !== null && isUnder(real, folder));
}
