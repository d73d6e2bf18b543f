import { loadSettings } from "./env.ts";
import { serveUntilSignalled } from "./node.ts";

/**
 * `npm start`: serves the API with the AUTOPROG_* settings. An entry file of its own, because
 * src/node.ts is also imported (by `autoprog serve`, tests, bundles), and an "am I the main
 * module" test inside it is true for every module of a bundle.
 */
await serveUntilSignalled(loadSettings());
