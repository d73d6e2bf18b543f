/**
 * A single-flight loop: `wake()` runs `pass` now, or, when a pass is already running, once more
 * right after it (any number of wakes during a pass ask for one more pass, not one each). A pass
 * that throws is reported to `onError` and does not end the loop. `onIdle` is told when a pass
 * ends with no wake pending (a poller sets its next timer there).
 */
export interface WakeLoopOptions {
  readonly onError: (error: unknown) => void;
  readonly onIdle?: () => void;
  /** Starts stopped: wakes do nothing until `start()` (default false). */
  readonly stopped?: boolean;
}

export class WakeLoop {
  private pass: Promise<void> | null = null;
  private again = false;
  private stopped: boolean;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly options: WakeLoopOptions,
  ) {
    this.stopped = options.stopped ?? false;
  }

  /** The pass in flight, or null. */
  get running(): Promise<void> | null {
    return this.pass;
  }

  /** Accepts wakes again and runs a pass. */
  start(): void {
    this.stopped = false;
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    this.pass = this.run()
      .then(
        () => undefined,
        (error: unknown) => this.options.onError(error),
      )
      .finally(() => {
        this.pass = null;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.wake();
          return;
        }
        this.options.onIdle?.();
      });
  }

  /** Takes no more wakes; resolves when the pass in flight has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.pass;
  }
}
