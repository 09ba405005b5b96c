import type { ViteUserConfig } from "vitest/config";

export declare const sourceCondition: "@primetime/source";
declare const config: ViteUserConfig;
export default config;
