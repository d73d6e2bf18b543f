import type { components } from "../client/index.ts";

/**
 * The filters of the experiment and run lists, kept in the page's URL (so a filtered list can be
 * reloaded and shared) and turned into the list routes' query (`GET /v1/experiments`,
 * `GET /v1/runs`: q, tag, state, arm, since, until, sort). Pure, tested in Node.
 */
export type RunStateName = components["schemas"]["Run"]["state"];
/** The API's run states (db/schema.ts RUN_STATES), in the order a run goes through them. */
export const RUN_STATES = [
  "queued",
  "running",
  "paused",
  "completed",
  "failed",
  "cancelled",
] as const satisfies readonly RunStateName[];
// Fails to compile when the API gains a state this list lacks.
const everyState: Exclude<RunStateName, (typeof RUN_STATES)[number]> extends never ? true : never = true;
void everyState;
export type Sort = "-createdAt" | "createdAt";

export interface ListFilters {
  /** Case-insensitive text search (names, notes). */
  readonly q: string;
  /** Every one of these tags. */
  readonly tags: readonly string[];
  /** Runs only: any of these states. */
  readonly states: readonly RunStateName[];
  /** Runs only: the arm's kind or name. */
  readonly arm: string;
  /** Created on or after this UTC day (YYYY-MM-DD), and on or before `until`. */
  readonly since: string;
  readonly until: string;
  readonly sort: Sort;
}

export const NO_FILTERS: ListFilters = {
  q: "",
  tags: [],
  states: [],
  arm: "",
  since: "",
  until: "",
  sort: "-createdAt",
};

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const list = (value: string | null) => (value ?? "").split(",").filter(Boolean);

export function filtersFromSearch(search: string): ListFilters {
  const query = new URLSearchParams(search);
  const day = (name: string) => {
    const value = query.get(name) ?? "";
    return DAY.test(value) ? value : "";
  };
  return {
    q: query.get("q") ?? "",
    tags: list(query.get("tag")),
    states: list(query.get("state")).filter((s): s is RunStateName =>
      (RUN_STATES as readonly string[]).includes(s),
    ),
    arm: query.get("arm") ?? "",
    since: day("since"),
    until: day("until"),
    sort: query.get("sort") === "createdAt" ? "createdAt" : "-createdAt",
  };
}

/** The URL's query for these filters (empty ones left out). */
export function searchOfFilters(filters: ListFilters): string {
  const query = new URLSearchParams();
  if (filters.q) query.set("q", filters.q);
  if (filters.tags.length) query.set("tag", filters.tags.join(","));
  if (filters.states.length) query.set("state", filters.states.join(","));
  if (filters.arm) query.set("arm", filters.arm);
  if (filters.since) query.set("since", filters.since);
  if (filters.until) query.set("until", filters.until);
  if (filters.sort !== "-createdAt") query.set("sort", filters.sort);
  const text = query.toString().replaceAll("%2C", ",");
  return text ? `?${text}` : "";
}

/** The day after a YYYY-MM-DD day, at 00:00 UTC (`until` is exclusive in the API, inclusive here). */
function dayAfter(day: string): string {
  const next = new Date(`${day}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return next.toISOString();
}

/** The experiments list's query (it takes no state or arm). */
export function experimentQuery(filters: ListFilters) {
  return {
    ...(filters.q ? { q: filters.q } : {}),
    ...(filters.tags.length ? { tag: filters.tags.join(",") } : {}),
    ...(filters.since ? { since: `${filters.since}T00:00:00Z` } : {}),
    ...(filters.until ? { until: dayAfter(filters.until) } : {}),
    sort: filters.sort,
  };
}

/** The runs list's query. */
export function runQuery(filters: ListFilters) {
  return {
    ...experimentQuery(filters),
    ...(filters.states.length ? { state: filters.states.join(",") } : {}),
    ...(filters.arm ? { arm: filters.arm } : {}),
  };
}

export const filtering = (filters: ListFilters): boolean => searchOfFilters(filters) !== "";
