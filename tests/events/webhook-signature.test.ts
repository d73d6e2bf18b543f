import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { newSecret, sign, webhookHeaders } from "../../src/events/webhooks/signature.ts";

const body = JSON.stringify({
  type: "webhook.test",
  timestamp: "2026-01-01T00:00:00.000Z",
  data: { n: "é✓" },
});

describe("webhook signatures (Standard Webhooks)", () => {
  it("verify with the standardwebhooks package on the exact bytes", async () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const now = Math.floor(Date.now() / 1000);
    const headers = await webhookHeaders([secret], "msg_1", now, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    // The same signature the package itself computes.
    expect(headers["webhook-signature"]).toBe(new Webhook(secret).sign("msg_1", new Date(now * 1000), body));
  });

  it("is v1, + base64 HMAC-SHA256 of id.timestamp.body keyed by the decoded secret", async () => {
    const key = Buffer.from("0123456789abcdef0123456789abcdef");
    const secret = `whsec_${key.toString("base64")}`;
    const expected = createHmac("sha256", key).update(`msg_2.1700000000.${body}`).digest("base64");
    expect(await sign(secret, "msg_2", 1_700_000_000, body)).toBe(`v1,${expected}`);
  });

  it("fails verification when a byte of the body, the id or the timestamp changes", async () => {
    const secret = newSecret();
    const now = Math.floor(Date.now() / 1000);
    const headers = await webhookHeaders([secret], "msg_3", now, body);
    const hook = new Webhook(secret);
    expect(() => hook.verify(`${body} `, headers)).toThrow();
    expect(() => hook.verify(body, { ...headers, "webhook-id": "msg_4" })).toThrow();
    expect(() => hook.verify(body, { ...headers, "webhook-timestamp": String(now - 1) })).toThrow();
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow();
  });

  it("signs with every secret given (rotation), and either secret verifies", async () => {
    const [current, previous] = [newSecret(), newSecret()];
    const now = Math.floor(Date.now() / 1000);
    const headers = await webhookHeaders([current, previous], "msg_5", now, body);
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers)).toBeTruthy();
    expect(new Webhook(previous).verify(body, headers)).toBeTruthy();
  });
});
