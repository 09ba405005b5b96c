import { Simulation, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { Kernel } from "../init/kernel.js";
import { CAP_SYS_ADMIN, capable } from "./cred.js";

describe("credentials", () => {
  it("capable(CAP_SYS_ADMIN): only in the threads of a process spawned with it", async () => {
    const seen: Record<string, boolean> = {};
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const root = k.spawnProcess(
        "root",
        async (p) => {
          seen.rootMain = capable(CAP_SYS_ADMIN);
          const t = p.spawnThread("worker", () => {
            seen.rootThread = capable(CAP_SYS_ADMIN);
          });
          await t.join();
        },
        { caps: [CAP_SYS_ADMIN] },
      );
      const user = k.spawnProcess("user", () => {
        seen.user = capable(CAP_SYS_ADMIN);
      });
      const none = k.spawnProcess(
        "none",
        () => {
          seen.emptySet = capable(CAP_SYS_ADMIN);
        },
        { caps: [] },
      );
      const bare = spawn("bare", () => {
        seen.bareTask = capable(CAP_SYS_ADMIN);
      });
      await root.wait();
      await user.wait();
      await none.wait();
      await bare.join();
      seen.outsideTasks = capable(CAP_SYS_ADMIN);
    });
    expect(r.outcome).toBe("ok");
    expect(seen).toEqual({
      rootMain: true,
      rootThread: true,
      user: false,
      emptySet: false,
      bareTask: false,
      outsideTasks: false,
    });
  });
});
