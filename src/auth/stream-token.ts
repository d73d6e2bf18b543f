import { randomBytes } from "../kit/crypto.ts";
import { base64urlDecode, base64urlEncode } from "../kit/encoding.ts";
import type { StreamTokens } from "../services.ts";

/**
 * Short-lived tokens for one run's event stream, for clients that cannot send headers
 * (a browser's EventSource). HMAC-signed rather than stored: minting one writes nothing and
 * checking one reads nothing but the key it names (a revoked key's tokens die with it). The
 * secret is per process unless configured, so tokens do not outlive a restart: clients ask again.
 */
export const STREAM_TOKEN_TTL_MS = 5 * 60_000;

const PREFIX = "st_";
const encoder = new TextEncoder();

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    return base64urlDecode(text);
  } catch {
    return null;
  }
}

/** HMAC-SHA256 tokens under `secret` (random when none is given). */
export function hmacStreamTokens(secret?: string): StreamTokens {
  const material = secret ? encoder.encode(secret) : randomBytes(32);
  const key = crypto.subtle.importKey("raw", material, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
  return {
    async mint({ runId, keyId, expiresAt }) {
      const payload = `${runId}.${keyId}.${expiresAt}`;
      const signature = await crypto.subtle.sign("HMAC", await key, encoder.encode(payload));
      return `${PREFIX}${payload}.${base64urlEncode(new Uint8Array(signature))}`;
    },
    async verify(token) {
      if (!token.startsWith(PREFIX)) return null;
      const parts = token.slice(PREFIX.length).split(".");
      if (parts.length !== 4) return null;
      const [runId, keyId, expires, signed] = parts as [string, string, string, string];
      const signature = fromBase64url(signed);
      const expiresAt = Number(expires);
      if (!signature || !Number.isSafeInteger(expiresAt)) return null;
      // crypto.subtle.verify compares in constant time.
      const valid = await crypto.subtle.verify(
        "HMAC",
        await key,
        signature,
        encoder.encode(`${runId}.${keyId}.${expires}`),
      );
      return valid ? { runId, keyId, expiresAt } : null;
    },
  };
}
