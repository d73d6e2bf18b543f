/**
 * File helpers shared by the dataset loaders: reads that fail with the path in the
 * message, and atomic writes for caches that concurrent processes may build at once.
 */

import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Reads a whole file; a missing file becomes an Error naming what was expected and where. */
export async function readRequiredFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isNotFound(error)) throw new Error(`${what} not found: ${path}`, { cause: error });
    throw error;
  }
}

/** Reads a file, or returns null when it does not exist (caches). */
export async function readOptionalFile(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/**
 * Writes through a uniquely named temporary file and a rename, so a reader never sees a
 * half-written file and two writers racing on the same cache both leave a whole one.
 */
export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, chunks);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
