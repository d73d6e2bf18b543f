/**
 * API key material, with Web Crypto only (the same on Node and Workers). A key is `ap_` and 43
 * base64url characters (32 random bytes). It is stored as its SHA-256: a slow password hash
 * guards low-entropy secrets against guessing, and 256 random bits cannot be guessed, so a fast
 * hash keeps every request's check cheap without making a leaked table any more useful.
 */
import { randomToken, sha256Hex } from "../kit/crypto.ts";

export const KEY_PREFIX = "ap_";

/** What a key looks like; `AUTOPROG_BOOTSTRAP_KEY` must match it too (at least 32 characters after the prefix). */
export const KEY_PATTERN = /^ap_[A-Za-z0-9_-]{32,128}$/;

export const newKey = (): string => randomToken(KEY_PREFIX, 32);

export const hashKey = (key: string): Promise<string> => sha256Hex(key);
