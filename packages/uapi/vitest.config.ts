export { default } from "@primetime/vitest-config";
