/**
 * Names each event's place in one trainer attempt's stream: `type@epoch#n`, the n-th event of
 * that type while epoch `epoch` trains. A run resumed from a checkpoint that covers epochs
 * [0, E) replays the trainer deterministically from epoch E, so the events it emits at
 * positions ≥ E get the same keys as those the interrupted attempt already stored, and the
 * unique index on (run, replay_key) drops them. Events at positions < E are not re-emitted.
 *
 * `run.started`, `run.failed`, `attempt.failed` and `run.paused` get no key: every attempt's
 * start is a new fact, a failure ends the run or the attempt, and a pause ends the attempt (a run
 * paused twice in one epoch pauses twice). Server-side events (cancel before start, giving up) get
 * no key either.
 *
 * A `checkpoint.saved` is keyed by the step it was taken at as well: a pause saves one inside an
 * epoch, and the run resumed there counts its epoch's events from 0 again, so a second pause in
 * that epoch would otherwise share the key of the epoch's opening checkpoint and be dropped.
 */
const ALWAYS_NEW = new Set(["run.started", "run.failed", "attempt.failed", "run.paused"]);

export class ReplayKeys {
  private position = 0;
  private counts = new Map<string, number>();

  /** The key for the next event of the attempt, advancing the position past completed epochs. */
  next(event: { readonly type: string; readonly [field: string]: unknown }): string | null {
    if (event.type === "run.started") {
      this.moveTo(typeof event.startEpoch === "number" ? event.startEpoch : 0);
      return null;
    }
    if (ALWAYS_NEW.has(event.type)) return null;
    const n = this.counts.get(event.type) ?? 0;
    this.counts.set(event.type, n + 1);
    const key =
      event.type === "checkpoint.saved" && typeof event.step === "number"
        ? `${event.type}@${this.position}:${event.step}`
        : `${event.type}@${this.position}#${n}`;
    // Whatever follows an epoch's end belongs to the next epoch (its checkpoint, its stage).
    if (event.type === "epoch.completed" && typeof event.epoch === "number") this.moveTo(event.epoch + 1);
    return key;
  }

  private moveTo(position: number): void {
    this.position = position;
    this.counts.clear();
  }
}
