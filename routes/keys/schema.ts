import { z } from "@hono/zod-openapi";
import type { KeyRow } from "../../db/keys.ts";
import { KEY_ROLES, PROJECT_KEY_ROLES } from "../../db/schema.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const Time = z.iso.datetime();

export const ProjectName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    "lower-case letters, digits, _ and -, at most 63, starting with a letter or digit",
  )
  .openapi({ example: "default" });

export const KeySchema = z
  .object({
    id: z.string().openapi({ example: "key_01hzx3k8q4tqkz3w5v9b2m7n6c" }),
    project: ProjectName,
    role: z.enum(KEY_ROLES).openapi({
      description:
        "`operator` creates projects and manages every project's keys (and uses its own project as " +
        "an admin does; made only by the first start or the CLI); `admin` manages its project's keys " +
        "and uses its project; `member` uses its project's experiments, runs and webhooks; `worker` " +
        "is reserved for pull workers.",
    }),
    name: z.string(),
    createdAt: Time,
    lastUsedAt: Time.nullable().openapi({ description: "Kept to the minute." }),
    revokedAt: Time.nullable(),
  })
  .openapi("ApiKey");

export const CreatedKeySchema = KeySchema.extend({
  key: z.string().openapi({ description: "The key itself: shown this once, stored only as a hash." }),
}).openapi("CreatedApiKey");

export const CreateKeySchema = z
  .object({
    project: ProjectName.optional().openapi({
      description:
        "Left out: the caller's own project. Another project only with an operator key (created when new).",
    }),
    role: z.enum(PROJECT_KEY_ROLES),
    name: z.string().min(1).max(100).openapi({ example: "ci" }),
  })
  .openapi("CreateApiKey");

export const KeyListSchema = z.object({ items: z.array(KeySchema) }).openapi("ApiKeyList");

export function toKey(row: KeyRow): z.infer<typeof KeySchema> {
  return KeySchema.parse({
    id: row.id,
    project: row.projectId,
    role: row.role,
    name: row.name,
    createdAt: iso(row.createdAt),
    lastUsedAt: iso(row.lastUsedAt),
    revokedAt: iso(row.revokedAt),
  });
}
