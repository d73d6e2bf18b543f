import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { createApp, openApiDocument } from "../src/app.ts";
import type { Services } from "../src/services.ts";

/**
 * `npm run openapi`: writes openapi/openapi.json from the routes. The document depends on the
 * code only, so no service is touched; a test fails when the checked-in file is stale.
 */
export const OPENAPI_FILE = fileURLToPath(new URL("./openapi.json", import.meta.url));

export function renderOpenApi(): string {
  const app = createApp({ services: {} as Services });
  return `${JSON.stringify(openApiDocument(app), null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(OPENAPI_FILE, renderOpenApi());
  console.log(`wrote ${OPENAPI_FILE}`);
}
