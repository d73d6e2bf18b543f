import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runs } from "../../db/schema.ts";
import type { Experiment } from "../../routes/experiments/schema.ts";
import type { Run } from "../../routes/runs/schema.ts";
import { expectProblem, read, type TestApp, testApp, tinySpec } from "./helpers.ts";

/** Issue 26: runs across experiments, filters, sort, tags and notes, and unknown query parameters. */

type Page<T> = { items: T[]; nextCursor: string | null };
type Summary = { id: string; name: string; tags: string[]; note: string | null };

let t: TestApp;
beforeEach(() => {
  t = testApp();
});
afterEach(() => t.close());

const patch = (path: string, body: unknown) =>
  t.app.request(path, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** Two experiments a minute apart: "baseline" (original ×2 seeds) then "growth" (original, prog). */
async function twoExperiments() {
  const baseline = await read<Experiment>(
    t.post("/v1/experiments", tinySpec({ name: "baseline run", seeds: [0, 1], arms: [{ arm: "original" }] })),
  );
  t.advance(60_000);
  const growth = await read<Experiment>(
    t.post(
      "/v1/experiments",
      tinySpec({
        name: "Growth study",
        arms: [{ arm: "original" }, { arm: "prog", label: "prog-fast" }],
        training: { epochs: 4, batchSize: 32, warmupEpochs: 0 },
      }),
    ),
  );
  return { baseline, growth };
}

const ids = (page: Page<{ id: string }>) => page.items.map((item) => item.id);

describe("GET /v1/runs", () => {
  it("lists the project's runs across experiments, newest first, each experiment's in spec order", async () => {
    const { baseline, growth } = await twoExperiments();
    const page = await read<Page<Run>>(t.app.request("/v1/runs"));
    expect(ids(page)).toEqual([...growth.runs.map((r) => r.id), ...baseline.runs.map((r) => r.id)]);
    const oldest = await read<Page<Run>>(t.app.request("/v1/runs?sort=createdAt"));
    expect(ids(oldest)).toEqual([...baseline.runs.map((r) => r.id), ...growth.runs.map((r) => r.id)]);
  });

  it("pages with a cursor in either order, every run once", async () => {
    const { baseline, growth } = await twoExperiments();
    for (const sort of ["-createdAt", "createdAt"]) {
      const seen: string[] = [];
      let cursor: string | null = "";
      while (cursor !== null) {
        const query: string = `sort=${sort}&limit=1${cursor ? `&cursor=${cursor}` : ""}`;
        const page: Page<Run> = await read<Page<Run>>(t.app.request(`/v1/runs?${query}`));
        expect(page.items.length).toBeLessThanOrEqual(1);
        seen.push(...ids(page));
        cursor = page.nextCursor;
      }
      const all = [...baseline.runs, ...growth.runs].map((r) => r.id);
      expect(seen.sort()).toEqual(all.sort());
      expect(new Set(seen).size).toBe(4);
    }
  });

  it("filters on state, arm (kind or name), experiment, name, creation time and text", async () => {
    const { baseline, growth } = await twoExperiments();
    const [first] = baseline.runs;
    if (!first) throw new Error("no run");
    t.db.update(runs).set({ state: "running" }).where(eq(runs.id, first.id)).run();
    const list = async (query: string) => ids(await read<Page<Run>>(t.app.request(`/v1/runs?${query}`)));

    expect(await list("state=running")).toEqual([first.id]);
    expect((await list("state=queued,running")).length).toBe(4);
    expect(await list("state=completed")).toEqual([]);
    const prog = growth.runs.find((r) => r.arm === "prog")?.id;
    expect(await list("arm=prog")).toEqual([prog]);
    expect(await list("arm=prog-fast")).toEqual([prog]);
    expect((await list("arm=original")).length).toBe(3);
    expect(await list(`experiment=${growth.id}`)).toEqual(growth.runs.map((r) => r.id));
    expect(await list("name=GROWTH")).toEqual(growth.runs.map((r) => r.id));
    // `since` is inclusive, `until` exclusive.
    const growthTime = growth.runs[0]?.createdAt ?? "";
    expect(await list(`since=${growthTime}`)).toEqual(growth.runs.map((r) => r.id));
    expect((await list(`until=${growthTime}`)).sort()).toEqual(baseline.runs.map((r) => r.id).sort());
    // LIKE's wildcards in the user's text match themselves.
    expect(await list("q=%25")).toEqual([]);
    expect(await list("q=fast")).toEqual([prog]);
  });

  it("answers 422 naming an unknown parameter or a bad value, never an unfiltered list", async () => {
    await twoExperiments();
    const unknown = await expectProblem(
      await t.app.request("/v1/runs?stat=running"),
      422,
      "validation_failed",
    );
    expect(unknown.errors).toEqual([
      { location: "query", path: "stat", message: expect.stringContaining("unknown query parameter") },
    ]);
    const badState = await expectProblem(
      await t.app.request("/v1/runs?state=done"),
      422,
      "validation_failed",
    );
    expect(badState.errors).toMatchObject([{ location: "query", path: "state.0" }]);
    await expectProblem(await t.app.request("/v1/runs?since=yesterday"), 422, "validation_failed");
    await expectProblem(await t.app.request("/v1/runs?sort=top1"), 422, "validation_failed");
  });

  it("shows only the caller's project", async () => {
    await twoExperiments();
    const other = await t.keyFor("other", "member");
    const page = await read<Page<Run>>(t.raw.request("/v1/runs", { headers: other.headers }));
    expect(page.items).toEqual([]);
  });
});

describe("tags and notes", () => {
  it("PATCH sets a run's tags and note, GET and the lists show them, tag= and q= find them", async () => {
    const { baseline, growth } = await twoExperiments();
    const run = growth.runs[1];
    if (!run) throw new Error("no run");
    const response = await patch(`/v1/runs/${run.id}`, {
      tags: ["keep", "paper table"],
      note: "Diverged at 3",
    });
    expect(response.status).toBe(200);
    expect(await read<Run>(response)).toMatchObject({
      id: run.id,
      tags: ["keep", "paper table"],
      note: "Diverged at 3",
    });
    expect(await read<Run>(t.app.request(`/v1/runs/${run.id}`))).toMatchObject({
      tags: ["keep", "paper table"],
    });
    await patch(`/v1/runs/${baseline.runs[0]?.id}`, { tags: ["keep"] });

    const list = async (query: string) => ids(await read<Page<Run>>(t.app.request(`/v1/runs?${query}`)));
    expect((await list("tag=keep")).sort()).toEqual([run.id, baseline.runs[0]?.id].sort());
    expect(await list("tag=keep,paper%20table")).toEqual([run.id]);
    expect(await list("tag=keep&tag=paper%20table")).toEqual([run.id]);
    expect(await list("q=diverged")).toEqual([run.id]);

    // A note alone leaves the tags; null removes the note.
    const noteOnly = await read<Run>(patch(`/v1/runs/${run.id}`, { note: null }));
    expect(noteOnly).toMatchObject({ tags: ["keep", "paper table"], note: null });
  });

  it("PATCH sets an experiment's tags and note; the experiments list filters on them", async () => {
    const { baseline, growth } = await twoExperiments();
    const patched = await read<Experiment>(
      patch(`/v1/experiments/${baseline.id}`, { tags: ["ablation"], note: "Lr sweep" }),
    );
    expect(patched).toMatchObject({ id: baseline.id, tags: ["ablation"], note: "Lr sweep" });
    expect(patched.runs.length).toBe(2);
    const list = async (query: string) =>
      (await read<Page<Summary>>(t.app.request(`/v1/experiments?${query}`))).items.map((e) => e.id);
    expect(await list("tag=ablation")).toEqual([baseline.id]);
    expect(await list("q=sweep")).toEqual([baseline.id]);
    expect(await list("q=growth")).toEqual([growth.id]);
    expect(await list("name=sweep")).toEqual([]);
    expect(await list("sort=createdAt")).toEqual([baseline.id, growth.id]);
    expect(await list("")).toEqual([growth.id, baseline.id]);
  });

  it("refuses a bad patch with a 422 naming the field, and another project's id with 404", async () => {
    const { growth } = await twoExperiments();
    const id = growth.runs[0]?.id;
    const duplicate = await expectProblem(
      await patch(`/v1/runs/${id}`, { tags: ["a", "a"] }),
      422,
      "validation_failed",
    );
    expect(duplicate.errors).toMatchObject([{ location: "body", path: "tags" }]);
    const comma = await expectProblem(
      await patch(`/v1/runs/${id}`, { tags: ["a,b"] }),
      422,
      "validation_failed",
    );
    expect(comma.errors).toMatchObject([{ location: "body", path: "tags.0" }]);
    const extra = await expectProblem(
      await patch(`/v1/runs/${id}`, { tags: [], state: "completed" }),
      422,
      "validation_failed",
    );
    expect(extra.errors).toMatchObject([{ location: "body", path: "state", message: "unknown field" }]);
    await expectProblem(await patch(`/v1/runs/${id}`, {}), 422, "validation_failed");
    const other = await t.keyFor("other", "member");
    const foreign = await t.raw.request(`/v1/experiments/${growth.id}`, {
      method: "PATCH",
      headers: { ...other.headers, "content-type": "application/json" },
      body: JSON.stringify({ tags: ["x"] }),
    });
    await expectProblem(foreign, 404, "not_found");
  });
});

describe("unknown query parameters", () => {
  it("are a 422 naming each on every list route, shared by defineRoute", async () => {
    const { growth } = await twoExperiments();
    for (const path of [
      "/v1/experiments",
      `/v1/experiments/${growth.id}/runs`,
      "/v1/webhooks",
      "/v1/queue",
      `/v1/runs/${growth.runs[0]?.id}/metrics`,
      `/v1/runs/${growth.runs[0]?.id}`,
    ]) {
      const body = await expectProblem(
        await t.app.request(`${path}?state=running&colour=red`),
        422,
        "validation_failed",
      );
      expect(body.errors, path).toEqual(
        ["state", "colour"].map((name) => ({ location: "query", path: name, message: expect.any(String) })),
      );
    }
  });
});
