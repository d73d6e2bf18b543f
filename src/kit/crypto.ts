import { base64urlEncode } from "./encoding.ts";

/**
 * Hashes and random tokens with Web Crypto, the same on Node, Workers and browsers.
 */

/** Lower-case hex SHA-256 of the text's UTF-8 bytes (or of the bytes). */
export async function sha256Hex(input: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `count` bytes from the platform's cryptographic generator. */
export const randomBytes = (count: number): Uint8Array<ArrayBuffer> =>
  crypto.getRandomValues(new Uint8Array(count));

/** An unguessable token: `prefix` and `bytes` random bytes in base64url (4 characters per 3 bytes). */
export const randomToken = (prefix: string, bytes: number): string =>
  `${prefix}${base64urlEncode(randomBytes(bytes))}`;
