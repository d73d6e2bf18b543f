import { describe, expect, it } from "vitest";
import { listen } from "../../src/http-listener.ts";
import { ADMIN_KEY, tableCounts, testApp, tinySpec } from "./helpers.ts";

describe("the older POST /v1/experiments?validate_only=1, over a real socket", () => {
  it("reaches the plan for a client that follows redirects (fetch sends the same body again), creating nothing", async () => {
    const t = testApp();
    const server = await listen({ fetch: (request) => t.raw.fetch(request), hostname: "127.0.0.1", port: 0 });
    const address = server.address();
    const api = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    try {
      const before = await tableCounts(t.db);
      const response = await fetch(`${api}/v1/experiments?validate_only=1`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify(
          tinySpec({
            arms: [{ arm: "original" }, { arm: "prog" }],
            training: { epochs: 4, batchSize: 32, warmupEpochs: 0 },
          }),
        ),
      });
      expect([response.status, response.status === 200 ? "" : await response.text()]).toEqual([200, ""]);
      expect(response.redirected).toBe(true);
      expect(new URL(response.url).pathname).toBe("/v1/experiments/validate");
      const plan = (await response.json()) as { arms: { arm: string }[] };
      expect(plan.arms.map((a) => a.arm)).toEqual(["original", "prog"]);
      expect(await tableCounts(t.db)).toEqual(before);
    } finally {
      server.close();
      t.close();
    }
  });
});
