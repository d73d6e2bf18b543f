/**
 * Standard Webhooks signing with Web Crypto (the same on Node and Workers): `v1,` + base64
 * HMAC-SHA256 of `id.timestamp.body`, keyed by the base64 bytes after `whsec_`.
 */

const SECRET_PREFIX = "whsec_";

/** A new secret: 24 random bytes, base64, behind `whsec_` (the form receivers' libraries take). */
export function newSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(24)));
}

export async function sign(secret: string, messageId: string, timestampSeconds: number, body: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signed = new TextEncoder().encode(`${messageId}.${timestampSeconds}.${body}`);
  return `v1,${toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", key, signed)))}`;
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

// btoa/atob, not Buffer: this runs on runtimes without Node's globals.
function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
