import { z } from "@hono/zod-openapi";
import { base64urlDecode, base64urlEncode } from "../../src/kit/encoding.ts";

/**
 * Opaque keyset cursors: base64url JSON of the last item's sort key. A cursor that does not
 * decode fails validation like any other bad field.
 */
export function encodeCursor(position: unknown): string {
  return base64urlEncode(new TextEncoder().encode(JSON.stringify(position)));
}

function decodeCursor(value: string): unknown {
  return JSON.parse(new TextDecoder().decode(base64urlDecode(value)));
}

export function cursorParam<T extends z.ZodType>(position: T) {
  return z
    .string()
    .max(512)
    .transform((value, ctx) => {
      try {
        const parsed = position.safeParse(decodeCursor(value));
        if (parsed.success) return parsed.data as z.output<T>;
      } catch {
        // falls through to the issue below
      }
      ctx.addIssue({ code: "custom", message: "not a cursor this endpoint returned" });
      return z.NEVER;
    })
    .optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "`nextCursor` of the previous page" });
}

export const limitParam = (fallback: number, max: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .openapi({ param: { name: "limit", in: "query" }, example: fallback });

export const IdParamsSchema = (prefix: "exp" | "run" | "whk" | "dlv") =>
  z.object({
    id: z
      .string()
      .min(1)
      .max(64)
      .openapi({ param: { name: "id", in: "path" }, example: `${prefix}_01hzx3k8q4tqkz3w5v9b2m7n6c` }),
  });
