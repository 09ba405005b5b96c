import { defineConfig } from "vitest/config";

/**
 * `vitest` from the repository root runs every workspace package's tests as one project each,
 * against TypeScript sources (each project's own vitest.config.ts resolves the
 * `@primetime/source` condition), never against a stale `dist/`. `pnpm test` still runs them per
 * package through turbo, with caching.
 */
export default defineConfig({
  test: {
    projects: ["packages/*", "packages/drivers/*", "apps/*", "tools/*"],
  },
});
