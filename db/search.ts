import { type AnyColumn, or, type SQL, sql } from "drizzle-orm";

/**
 * The SQL of the lists' searches, shared by experiments and runs. JSON functions and row values
 * are SQLite's own, so the same statements run on better-sqlite3 and D1.
 */

/** Rows whose JSON array of tags holds every one of `tags`. */
export function hasEveryTag(column: AnyColumn, tags: readonly string[]): SQL | undefined {
  if (tags.length === 0) return undefined;
  return sql.join(
    tags.map((tag) => sql`exists (select 1 from json_each(${column}) where json_each.value = ${tag})`),
    sql` and `,
  );
}

/** `%`, `_` and `\` of the user's text match themselves (the pattern is used with `ESCAPE '\'`). */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Rows where any of `columns` holds `text`, ignoring ASCII case (SQLite's LIKE); null columns never match. */
export function containsText(columns: readonly AnyColumn[], text: string | undefined): SQL | undefined {
  if (text === undefined) return undefined;
  const pattern = likePattern(text);
  return or(...columns.map((column) => sql`${column} like ${pattern} escape '\\'`));
}
