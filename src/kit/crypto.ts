import { base64urlEncode } from "./encoding.ts";

/**
 * Hashes and random tokens with Web Crypto, the same on Node, Workers and browsers.
 */

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Lower-case hex SHA-256 of the text's UTF-8 bytes (or of the bytes). */
export async function sha256Hex(input: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const byte of digest) hex += HEX[byte];
  return hex;
}

/**
 * Whether two strings are equal, in time that depends on their length only (for secrets and
 * their hashes; no hashing of its own, so it costs a loop over the characters).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/** `count` bytes from the platform's cryptographic generator. */
export const randomBytes = (count: number): Uint8Array<ArrayBuffer> =>
  crypto.getRandomValues(new Uint8Array(count));

/** An unguessable token: `prefix` and `bytes` random bytes in base64url (4 characters per 3 bytes). */
export const randomToken = (prefix: string, bytes: number): string =>
  `${prefix}${base64urlEncode(randomBytes(bytes))}`;
