import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ProblemError } from "./problem.ts";

/**
 * Query parameters shared by the list routes, and the check that refuses the ones a route does
 * not take: a misspelt or unsupported filter (`?stat=running`, `?tag=` on a list without tags)
 * is a 422 naming it, never a silently unfiltered list.
 */

/**
 * The middleware `defineRoute` puts in front of every route: a query parameter the route does
 * not declare is a 422 with one field error per unknown name. Runs before validation, so the
 * answer names the unknown parameter even when a known one is also wrong.
 */
export function rejectUnknownQuery(allowed: readonly string[]): MiddlewareHandler {
  const known = new Set(allowed);
  const takes = allowed.length > 0 ? `this route takes ${allowed.join(", ")}` : "this route takes none";
  return async (c, next) => {
    // Most requests carry no query: skip parsing the URL for them.
    if (!c.req.url.includes("?")) return next();
    const unknown = [...new Set(new URL(c.req.url).searchParams.keys())].filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new ProblemError(
        "validation_failed",
        `unknown query parameter${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`,
        unknown.map((name) => ({
          location: "query",
          path: name,
          message: `unknown query parameter (${takes})`,
        })),
      );
    }
    await next();
  };
}

/** A list-valued parameter: comma-separated (`state=queued,running`) and/or repeated. */
export function listParam<T extends z.ZodType<string>>(item: T, name: string, description: string) {
  return z
    .preprocess(
      (value) =>
        (Array.isArray(value) ? value : [value])
          .flatMap((v) => (typeof v === "string" ? v.split(",") : [v]))
          .filter((v) => v !== ""),
      z.array(item).min(1).max(50),
    )
    .optional()
    .openapi({
      param: { name, in: "query", style: "form", explode: false },
      type: "string",
      description,
    });
}

/** A user's tag: short, no commas (lists of them are comma-separated) and no surrounding space. */
export const TagSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^,\s](?:[^,]*[^,\s])?$/, "a tag has no commas and no leading or trailing space");

export const MAX_TAGS = 32;
export const MAX_NOTE_LENGTH = 10_000;

export const tagParam = () =>
  listParam(TagSchema, "tag", "Only those with every one of these tags (comma-separated).");

/** `q`: case-insensitive text search (substring) over the resource's name and note. */
export const textSearchParam = (over: string) =>
  z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({
      param: { name: "q", in: "query" },
      description: `Case-insensitive substring of ${over}.`,
      example: "baseline",
    });

/** `name`: case-insensitive substring of the name. */
export const nameParam = (whose: string) =>
  z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({
      param: { name: "name", in: "query" },
      description: `Case-insensitive substring of ${whose}.`,
    });

const timeParam = (name: "since" | "until", description: string) =>
  z.iso
    .datetime({ offset: true })
    .transform((value) => Date.parse(value))
    .optional()
    .openapi({ param: { name, in: "query" }, description, example: "2026-12-01T00:00:00Z" });

/** Creation-time bounds: `since` inclusive, `until` exclusive. */
export const createdSinceParam = () => timeParam("since", "Created at or after this time (RFC 3339).");
export const createdUntilParam = () => timeParam("until", "Created before this time (RFC 3339).");

/** `sort` on creation time: newest first unless asked otherwise. */
export const SORTS = ["-createdAt", "createdAt"] as const;
export const sortParam = () =>
  z
    .enum(SORTS)
    .default("-createdAt")
    .openapi({
      param: { name: "sort", in: "query" },
      description: "`-createdAt` (newest first, the default) or `createdAt` (oldest first).",
    });

/** A user's tags and note, as PATCH takes them (each optional; a given one replaces the stored one). */
export const AnnotationsPatchSchema = z
  .strictObject({
    tags: z
      .array(TagSchema)
      .max(MAX_TAGS)
      .refine((tags) => new Set(tags).size === tags.length, "tags must be distinct")
      .optional()
      .openapi({ description: "Replaces the tags (`[]` removes them all)." }),
    note: z
      .string()
      .max(MAX_NOTE_LENGTH)
      .nullable()
      .optional()
      .openapi({ description: "Replaces the note (`null` removes it)." }),
  })
  .refine((patch) => patch.tags !== undefined || patch.note !== undefined, "give tags, note or both")
  .openapi("AnnotationsPatch");

export type AnnotationsPatch = z.infer<typeof AnnotationsPatchSchema>;

/** The stored form of a patch: only what it gives. */
export function annotationsOf(patch: AnnotationsPatch): { tags?: string[]; note?: string | null } {
  return {
    ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
    ...(patch.note !== undefined ? { note: patch.note } : {}),
  };
}
