import { randomBytes } from "../src/kit/crypto.ts";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * Sortable ids: 10 characters of milliseconds then 16 random ones (a ULID in lower case), so
 * ordering by id is ordering by creation and keyset cursors can use the id alone.
 */
export function newId(
  prefix: "exp" | "run" | "key" | "whk" | "dlv" | "msg",
  now: number = Date.now(),
): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = (ALPHABET[t % 32] as string) + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let random = "";
  for (const byte of bytes) random += ALPHABET[byte % 32];
  return `${prefix}_${time}${random}`;
}
