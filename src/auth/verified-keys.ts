/**
 * Keys that authenticated recently, held in memory for a short time so a request with a known
 * key costs one hash and a Map lookup instead of a database read. What this trades: a key
 * revoked (or changed) by another process (a second Node server on the same database, another
 * Workers isolate) keeps working here until its entry expires, at most `ttlMs` later; the
 * process that revokes it forgets it at once (`forget`). `ttlMs` 0 turns the cache off.
 */
import type { Principal, VerifiedKeys } from "../services.ts";

interface Entry {
  readonly principal: Principal;
  readonly hash: string;
  expiresAt: number;
}

export class InMemoryVerifiedKeys implements VerifiedKeys {
  private readonly byHash = new Map<string, Entry>();
  private readonly byId = new Map<string, Entry>();

  constructor(
    readonly ttlMs: number,
    /** More keys than this at once: expired entries are swept, and if none had expired, all go. */
    private readonly maxEntries = 10_000,
  ) {}

  byKeyHash(hash: string, now: number): Principal | undefined {
    return this.live(this.byHash.get(hash), now);
  }

  byKeyId(keyId: string, now: number): Principal | undefined {
    return this.live(this.byId.get(keyId), now);
  }

  remember(hash: string, principal: Principal, now: number): void {
    if (this.ttlMs <= 0) return;
    if (this.byHash.size >= this.maxEntries) this.sweep(now);
    const entry: Entry = { principal, hash, expiresAt: now + this.ttlMs };
    this.drop(this.byId.get(principal.keyId));
    this.byHash.set(hash, entry);
    this.byId.set(principal.keyId, entry);
  }

  forget(keyId: string): void {
    this.drop(this.byId.get(keyId));
  }

  get size(): number {
    return this.byHash.size;
  }

  private live(entry: Entry | undefined, now: number): Principal | undefined {
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry.principal;
    this.drop(entry);
    return undefined;
  }

  private drop(entry: Entry | undefined) {
    if (entry === undefined) return;
    if (this.byHash.get(entry.hash) === entry) this.byHash.delete(entry.hash);
    if (this.byId.get(entry.principal.keyId) === entry) this.byId.delete(entry.principal.keyId);
  }

  private sweep(now: number) {
    for (const entry of this.byHash.values()) if (entry.expiresAt <= now) this.drop(entry);
    if (this.byHash.size >= this.maxEntries) {
      this.byHash.clear();
      this.byId.clear();
    }
  }
}
