/**
 * Standard Webhooks signing with Web Crypto (the same on Node and Workers): `v1,` + base64
 * HMAC-SHA256 of `id.timestamp.body`, keyed by the base64 bytes after `whsec_`.
 */

import { randomBytes } from "../../kit/crypto.ts";
import { base64Decode, base64Encode } from "../../kit/encoding.ts";

const SECRET_PREFIX = "whsec_";

/** A new secret: 24 random bytes, base64, behind `whsec_` (the form receivers' libraries take). */
export function newSecret(): string {
  return SECRET_PREFIX + base64Encode(randomBytes(24));
}

export async function sign(secret: string, messageId: string, timestampSeconds: number, body: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    base64Decode(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signed = new TextEncoder().encode(`${messageId}.${timestampSeconds}.${body}`);
  return `v1,${base64Encode(new Uint8Array(await crypto.subtle.sign("HMAC", key, signed)))}`;
}

/** The three headers of one attempt; every secret still valid signs (space-separated, per the spec). */
export async function webhookHeaders(
  secrets: readonly string[],
  messageId: string,
  timestampSeconds: number,
  body: string,
): Promise<Record<string, string>> {
  const signatures = await Promise.all(secrets.map((s) => sign(s, messageId, timestampSeconds, body)));
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": signatures.join(" "),
  };
}
