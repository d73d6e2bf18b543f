/**
 * Base64 and base64url (RFC 4648 §4 and §5) with `btoa`/`atob`, not Buffer: the request path,
 * the Workers entry and the dashboard run where Node's globals are not.
 */

/** Bytes per `String.fromCharCode` call: spreading a large array past the engine's argument limit throws. */
const CHUNK = 0x8000;

function binaryOf(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return binary;
}

/** Standard base64 with `=` padding. */
export function base64Encode(bytes: Uint8Array): string {
  return btoa(binaryOf(bytes));
}

/** Standard base64 (padding optional); throws a DOMException on characters outside the alphabet. */
export function base64Decode(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** URL- and file-name-safe base64 without padding. */
export function base64urlEncode(bytes: Uint8Array): string {
  return base64Encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Base64url, padded or not; throws a DOMException on characters outside the alphabet. */
export function base64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  return base64Decode(text.replace(/-/g, "+").replace(/_/g, "/"));
}
