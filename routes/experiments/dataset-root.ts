import type { DatasetRootPolicy } from "../../src/services.ts";
import { ProblemError } from "../common/problem.ts";

/**
 * Where a spec's `dataset.root` may point: a relative root is taken from the data folder, and
 * the resolved folder must lie under one of the allowed ones. The check is on the path's text
 * only (the app touches no file system), so the answer never says whether a path exists.
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

export function checkDatasetRoot(root: string | undefined, policy: DatasetRootPolicy = DEFAULT_POLICY): void {
  if (root === undefined) return;
  const resolved = resolvePosix(policy.dataDir, root);
  if (root.includes("\0") || !policy.allowed.some((folder) => isUnder(resolved, folder))) {
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
