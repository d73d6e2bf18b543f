import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import {
  type AdapterReport,
  describeAdapter,
  exposeGpuConstants,
  noAdapterReason,
} from "../../src/backend/select.ts";

/**
 * The WebGPU adapter the real-adapter tests run on: Dawn (the `webgpu` package), resolved once per
 * test process. In CI that is Mesa's lavapipe (`.ci/install-lavapipe.sh`, run by `.ci/run`); on a
 * developer's machine whatever Vulkan driver is installed. Without an adapter the tests are skipped
 * with the reason, and fail with it when CI is set — as the browser tests do (tests/ui/browser.ts).
 *
 * Each file that uses it runs in its own child process (vitest's `forks` pool isolates files), so
 * Dawn's native state never outlives the file and the process always exits.
 */
export interface WebGpuForTests {
  /** Our report of the adapter: vendor, device, description, `isFallback` (true on lavapipe). */
  readonly info: AdapterReport;
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  /**
   * A new device on a new adapter (an adapter gives one device only). Destroy it when done;
   * `describeWebGpu` destroys any left alive after its suite.
   */
  requestDevice(descriptor?: GPUDeviceDescriptor): Promise<GPUDevice>;
}

export type WebGpuProbe = WebGpuForTests | { readonly skip: string };

const INSTALL_HINT =
  "bash .ci/install-lavapipe.sh installs Mesa 25's lavapipe from bookworm-backports (.ci/run does it)";

/** A Vulkan driver list naming no file (see withNoVulkanDriver). */
const NO_DRIVER = "/nonexistent/autoprog-test-icd.json";

/**
 * Every Dawn instance this process made, held until it exits. dawn.node frees an instance once
 * its `GPU` object is garbage-collected, even while a device of it lives and Dawn's event
 * processing is still scheduled; the next `InstanceBase::ProcessEvents` then runs on freed memory
 * and the process aborts (a vitest fork dying with "Channel closed" in the middle of `npm test`).
 * tests/backend/dawn-instance.test.ts shows a kept instance surviving collection.
 */
const dawnInstances: unknown[] = [];

/** Holds a Dawn `GPU` object (from `create`) for the life of the process; returns it. */
export function keepDawnInstance<T>(gpu: T): T {
  dawnInstances.push(gpu);
  return gpu;
}

let probe: Promise<WebGpuProbe> | undefined;
const liveDevices = new Set<GPUDevice>();

/** Dawn's adapter here, or why there is none, resolved once per process. Throws when CI is set. */
export function webgpuForTests(): Promise<WebGpuProbe> {
  probe ??= probeWebGpu();
  return probe;
}

/** A suite that needs a WebGPU adapter: skipped with the reason without one (fails when CI is set). */
export function describeWebGpu(name: string, suite: (gpu: WebGpuForTests) => void): void {
  describe(name, async () => {
    const found = await webgpuForTests();
    if ("skip" in found) {
      it.skip(`needs a WebGPU adapter: ${found.skip}`, () => {});
      return;
    }
    afterAll(destroyDevices);
    suite(found);
  });
}

/** Destroys every device `requestDevice` made that is still alive. */
export function destroyDevices(): void {
  for (const device of liveDevices) device.destroy();
  liveDevices.clear();
}

/** A new Dawn instance's adapter now (with this process' VK_DRIVER_FILES), or why there is none. */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  ensureRuntimeDir();
  let reason: string;
  try {
    const dawn = await import("webgpu");
    exposeGpuConstants(dawn.globals);
    // One instance for the process, kept for its life (keepDawnInstance); the forked test process
    // is ended by vitest after the file.
    const gpu = keepDawnInstance(dawn.create([]));
    const requestAdapter = () => gpu.requestAdapter({ powerPreference: "high-performance" });
    const adapter = await requestAdapter();
    if (adapter) {
      return {
        info: describeAdapter(adapter, adapter.info),
        features: new Set(adapter.features),
        limits: adapter.limits,
        async requestDevice(descriptor) {
          const fresh = await requestAdapter();
          if (!fresh) throw new Error("Dawn gave no adapter for a second device");
          const device = await fresh.requestDevice(descriptor);
          liveDevices.add(device);
          void device.lost.then(() => liveDevices.delete(device));
          return device;
        },
      };
    }
    reason = noAdapterReason(false);
  } catch (error) {
    reason = `the webgpu package (Dawn) did not load: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (process.env.CI) throw new Error(`the WebGPU tests need an adapter: ${reason}; ${INSTALL_HINT}`);
  return { skip: `${reason}; ${INSTALL_HINT}` };
}

/** Mesa's loader warns without XDG_RUNTIME_DIR; a private folder, removed when the process exits. */
function ensureRuntimeDir(): void {
  if (process.env.XDG_RUNTIME_DIR) return;
  const dir = mkdtempSync(join(tmpdir(), "autoprog-xdg-"));
  process.env.XDG_RUNTIME_DIR = dir;
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
}

/**
 * Runs `body` with the Vulkan loader pointed at a driver list naming no file, which hides every
 * installed ICD (lavapipe included) from the Dawn instances created meanwhile: "no adapter" on any
 * Linux machine. VK_DRIVER_FILES is restored afterwards.
 */
export async function withNoVulkanDriver<T>(body: () => Promise<T>): Promise<T> {
  const saved = process.env.VK_DRIVER_FILES;
  process.env.VK_DRIVER_FILES = NO_DRIVER;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env.VK_DRIVER_FILES;
    else process.env.VK_DRIVER_FILES = saved;
  }
}
