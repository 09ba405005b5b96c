// @ts-check
import { defaultClientConditions, defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

/**
 * The private export condition under which every workspace package maps "." to `src/index.ts`.
 * With it, a test that imports another workspace package runs against that package's
 * TypeScript sources: nothing has to be built first.
 */
export const sourceCondition = "@primetime/source";

/**
 * Shared vitest config; each package's `vitest.config.ts` re-exports it.
 *
 * Vite 6+ keeps separate resolve conditions per environment. Vitest runs tests in the `ssr`
 * environment (the default `node` test environment), so the condition must be in
 * `ssr.resolve.conditions`; `resolve.conditions` covers the client environment (e.g. browser
 * mode). Setting either replaces Vite's defaults, hence the spread. Workspace packages are
 * symlinks to paths outside node_modules, so Vite inlines (transforms) them rather than
 * externalizing them to Node, which could not load `.ts` files.
 */
export default defineConfig({
  resolve: {
    conditions: [sourceCondition, ...defaultClientConditions],
  },
  ssr: {
    resolve: {
      conditions: [sourceCondition, ...defaultServerConditions],
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    // A timeout only catches a hang, never measures speed (benchmarks do that): tests explore
    // many schedules, and a 2-core box shared with other jobs can be several times slower than
    // an idle one.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
  },
});
