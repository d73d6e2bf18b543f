/**
 * API key material, with Web Crypto only (the same on Node and Workers). A key is `ap_` and 43
 * base64url characters (32 random bytes). It is stored as its SHA-256: a slow password hash
 * guards low-entropy secrets against guessing, and 256 random bits cannot be guessed, so a fast
 * hash keeps every request's check cheap without making a leaked table any more useful.
 */
export const KEY_PREFIX = "ap_";

/** What a key looks like; `AUTOPROG_BOOTSTRAP_KEY` must match it too (at least 32 characters after the prefix). */
export const KEY_PATTERN = /^ap_[A-Za-z0-9_-]{32,128}$/;

export function base64url(bytes: Uint8Array): string {
  // btoa, not Buffer: the request path runs on runtimes without Node's globals.
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function newKey(): string {
  return `${KEY_PREFIX}${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

export async function hashKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
