import { describe, expect, it } from "vitest";
import { WakeLoop } from "../../src/kit/wake-loop.ts";

/** A pass that waits until the test lets it end. */
function gatedPasses() {
  const gates: (() => void)[] = [];
  let started = 0;
  const run = () =>
    new Promise<void>((resolve) => {
      started += 1;
      gates.push(resolve);
    });
  return { run, started: () => started, endOne: () => gates.shift()?.() };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("WakeLoop", () => {
  it("runs one pass at a time and once more for any number of wakes during it", async () => {
    const passes = gatedPasses();
    let idle = 0;
    const loop = new WakeLoop(passes.run, { onError: () => {}, onIdle: () => (idle += 1) });
    loop.wake();
    loop.wake();
    loop.wake();
    expect(passes.started()).toBe(1);
    passes.endOne();
    await settle();
    expect(passes.started()).toBe(2);
    expect(idle).toBe(0);
    passes.endOne();
    await settle();
    expect(passes.started()).toBe(2);
    expect(idle).toBe(1);
    expect(loop.running).toBeNull();
  });

  it("reports a failed pass and keeps going", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const loop = new WakeLoop(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error("pass failed");
      },
      { onError: (error) => errors.push(error) },
    );
    loop.wake();
    await loop.running;
    loop.wake();
    await loop.running;
    expect(calls).toBe(2);
    expect(errors.map(String)).toEqual(["Error: pass failed"]);
  });

  it("takes no wakes while stopped, and no pending one after stop()", async () => {
    const passes = gatedPasses();
    let idle = 0;
    const loop = new WakeLoop(passes.run, { onError: () => {}, onIdle: () => (idle += 1), stopped: true });
    loop.wake();
    expect(passes.started()).toBe(0);
    loop.start();
    loop.wake();
    const stopped = loop.stop();
    passes.endOne();
    await stopped;
    await settle();
    expect(passes.started()).toBe(1);
    expect(idle).toBe(0);
  });
});
