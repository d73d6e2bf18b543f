import { describe, expect, it } from "vitest";
import {
  experimentQuery,
  filtersFromSearch,
  NO_FILTERS,
  runQuery,
  searchOfFilters,
} from "../../src/ui/filters.ts";

describe("the lists' filters", () => {
  it("round-trip through the URL, leaving out what is empty or unknown", () => {
    const filters = {
      ...NO_FILTERS,
      q: "base line",
      tags: ["paper", "v2"],
      states: ["running", "queued"] as const,
      arm: "prog",
      since: "2026-12-01",
      until: "2026-12-06",
      sort: "createdAt" as const,
    };
    const search = searchOfFilters(filters);
    expect(search).toBe(
      "?q=base+line&tag=paper,v2&state=running,queued&arm=prog&since=2026-12-01&until=2026-12-06&sort=createdAt",
    );
    expect(filtersFromSearch(search)).toEqual(filters);
    expect(searchOfFilters(NO_FILTERS)).toBe("");
    expect(filtersFromSearch("?state=running,bogus&since=yesterday&sort=up")).toEqual({
      ...NO_FILTERS,
      states: ["running"],
    });
  });

  it("ask the API for whole UTC days: `until` is the next day's midnight, as the API's bound is exclusive", () => {
    const filters = { ...filtersFromSearch("?since=2026-12-31&until=2026-12-31&tag=a,b&state=failed&arm=x") };
    expect(experimentQuery(filters)).toEqual({
      tag: "a,b",
      since: "2026-12-31T00:00:00Z",
      until: "2027-01-01T00:00:00.000Z",
      sort: "-createdAt",
    });
    expect(runQuery(filters)).toMatchObject({ state: "failed", arm: "x" });
  });
});
