import type { Context, MiddlewareHandler } from "hono";
import { anyKeyExists } from "../../db/keys.ts";
import { ProblemError } from "../core/problem.ts";
import type { AppEnv } from "../services.ts";
import { bootstrapAdminKey } from "./bootstrap.ts";
import { KEY_PATTERN } from "./keys.ts";

/** Where the first key comes from on a runtime without a data folder to write it to. */
export interface BootstrapSource {
  /** The name the operator sets the key under (quoted in the problem). */
  readonly name: string;
  /** The configured key, or undefined when it is not set. */
  readonly key: string | undefined;
}

/**
 * The first admin key where nothing can be written to disk (Workers): before authentication,
 * while the keys table is empty, `source.key` becomes the operator key (src/auth/bootstrap.ts); it is
 * ignored once any key exists. Without a key and without the setting (or with one that is not a
 * key) every request answers 503 `not_bootstrapped` naming the setting. Once a key is found the
 * check is not made again for this guard's life (one per isolate on Workers).
 */
export function bootstrapFromSetting(
  sourceOf: (c: Context<AppEnv>) => BootstrapSource,
): MiddlewareHandler<AppEnv> {
  let ready = false;
  return async (c, next) => {
    if (!ready) {
      const { db, clock } = c.get("services");
      if (!(await anyKeyExists(db))) {
        const source = sourceOf(c);
        const key = source.key?.trim() || undefined;
        if (key === undefined || !KEY_PATTERN.test(key)) {
          throw new ProblemError(
            "not_bootstrapped",
            key === undefined
              ? `no API key exists yet: set the ${source.name} secret to the first (operator) key (\`wrangler secret put ${source.name}\`)`
              : `${source.name} is not a key: it must be ap_ followed by 32 to 128 characters of A-Z a-z 0-9 _ -`,
          );
        }
        // Inserted only while the table is empty, so concurrent first requests create one key.
        await bootstrapAdminKey(db, { given: key, now: clock() });
      }
      ready = true;
    }
    await next();
  };
}
