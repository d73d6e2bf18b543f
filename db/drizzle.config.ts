import { defineConfig } from "drizzle-kit";

/** `npm run db:generate` writes a new migration into db/migrations after a schema change. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./db/schema.ts",
  out: "./db/migrations",
});
