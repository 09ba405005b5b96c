import { join } from "node:path";
import type { PlopTypes } from "@turbo/gen";
import { driverNameProblem, generateDriver } from "../../tools/gen-driver/generate-driver.ts";

/**
 * `pnpm turbo gen driver [--args <name>]`: a new driver package from vgem's shape (see
 * tools/gen-driver). Asks for the name, writes the package and registers it everywhere it must
 * be known (stress app, README and CONTRIBUTING tables, a changeset); then run `pnpm install`.
 */
export default function generator(plop: PlopTypes.NodePlopAPI): void {
  plop.setGenerator("driver", {
    description: "A new DRM driver package under packages/drivers, from vgem's shape",
    prompts: [
      {
        type: "input",
        name: "name",
        message: "Driver name (the kernel module's, e.g. vkms):",
        validate: (input: string) =>
          driverNameProblem(plop.getDestBasePath(), String(input).trim()) ?? true,
      },
    ],
    actions: [
      (answers) => {
        const name = String((answers as { name: string }).name).trim();
        const root = plop.getDestBasePath();
        const files = generateDriver(root, name);
        return [
          `wrote packages/drivers/${name} and updated ${files.filter((f) => !f.startsWith("packages/drivers/")).join(", ")}`,
          `next: pnpm install && pnpm --filter @primetime/${name} test (see ${join("packages/drivers", name, "README.md")})`,
        ].join("\n");
      },
    ],
  });
}
