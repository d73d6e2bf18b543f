// The trainer thread's entry: registers tsx inside the thread (worker_threads do not take
// --import loaders on Node 20), then runs the TypeScript worker as it is.
import { register } from "tsx/esm/api";

register();
await import("./thread.ts");
