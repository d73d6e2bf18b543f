import type { Db } from "../../db/database.ts";
import { createFirstKey } from "../../db/keys.ts";
import { DEFAULT_PROJECT } from "../../db/schema.ts";
import { hashKey, newKey } from "./keys.ts";

/**
 * First start: while no key exists, an operator key homed in project `default` is created (it
 * creates projects and their keys, and uses `default` as an admin does), `given`
 * (AUTOPROG_BOOTSTRAP_KEY, already validated) or a random one. Returns the key when this call
 * created it, so the caller shows it once; null when keys exist (`given` is then ignored).
 */
export async function bootstrapAdminKey(db: Db, options: { given: string | null; now: number }) {
  const key = options.given ?? newKey();
  const created = await createFirstKey(db, {
    projectId: DEFAULT_PROJECT,
    role: "operator",
    name: "bootstrap",
    hash: await hashKey(key),
    now: options.now,
  });
  return created ? key : null;
}
