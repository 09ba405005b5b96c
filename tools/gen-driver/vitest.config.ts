import shared from "@primetime/vitest-config";
import { defineConfig, mergeConfig } from "vitest/config";

// Sources live beside package.json (not in src/), tests in test/.
export default mergeConfig(shared, defineConfig({ test: { include: ["test/**/*.test.ts"] } }));
