/**
 * fuzz: the syscall fuzzer of `@primetime/fuzz` on a pair of drivers (its two devices are the
 * unit's exporter and importer driver; a pair of one driver is two devices of it). Several
 * processes, each with a few threads, issue random syscalls with valid and invalid arguments:
 * open, CREATE_DUMB, GEM_CLOSE, FLINK/GEM_OPEN, PRIME export and import on the same and the other
 * device, dup/close, SCM_RIGHTS passing between processes, mappings, garbage ioctls, hostile
 * arguments and exit mid-way. The workload's size (processes, threads per process, operations
 * per thread) is drawn from the schedule's seed, like every other choice of the run, so a token
 * replays it.
 *
 * Fault injection (`--faults`; the fuzzer's model accepts the errnos of a failed allocation) starts
 * at the end of the boot (the fuzzer's `afterBoot` hook): every syscall must still return an
 * errno, and the machine must leak nothing.
 *
 * What must hold: every syscall returns 0 (or a value) or a negative errno, never throws (an
 * exception is a `bug` splat); what userspace sees agrees with the fuzzer's reference model
 * (which buffer each handle, name and fd reaches, its size and bytes: a divergence is a `warn`
 * splat starting with DIVERGENCE_PREFIX); and the kernel's own oracles (refcount, KASAN, lockdep,
 * WARN, kmemleak and the DRM device counters after the machine quiesced) stay silent.
 */
import {
  type FuzzOptions,
  type FuzzProcessPlan,
  fuzzScenario,
  planFromScenarioName,
  STRESS_FD_REUSE_PLAN,
  STRESS_FUZZ_SIZES,
} from "@primetime/fuzz";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { startFaults } from "./machine.js";
import { sizedForSharing } from "./sized-devices.js";

/**
 * The workload sizes a run draws from (inclusive ranges): the fuzz package's
 * `STRESS_FUZZ_SIZES`, which it draws at the start of the run, so that its own CLI replays this
 * scenario's tokens (`cli log --token`: the syscall log of a finding).
 */
export const FUZZ_SIZES = STRESS_FUZZ_SIZES;

/**
 * The build of a fuzz scenario: the fuzzer on the unit's drivers at the sharing scenarios' sizes,
 * with `options` (workload sizes, a plan, the private ioctls, KMS). Fault injection starts once
 * the devices are registered, as in the other sharing scenarios (bootMachine): it hits the
 * workload, not the boot.
 */
function buildFuzz(options: Omit<FuzzOptions, "drivers" | "afterBoot">): CampaignScenario["build"] {
  return (drivers, { faults }) =>
    async (sim) => {
      const opts: FuzzOptions = {
        drivers: drivers.map(sizedForSharing),
        ...options,
        afterBoot: faults ? () => startFaults(faults) : undefined,
      };
      await fuzzScenario(opts)(sim);
    };
}

export const FUZZ: CampaignScenario = {
  name: "fuzz",
  description:
    "random syscalls with valid and invalid arguments from 2-3 processes of 1-3 threads on both devices (PRIME across them, fd passing, flink, garbage ioctls, exits mid-way): every syscall returns 0 or -errno and agrees with the fuzzer's reference model",
  kernelRef:
    "drivers/gpu/drm/drm_gem.c, drm_prime.c, drm_ioctl.c, drivers/dma-buf/dma-buf.c, net/unix SCM_RIGHTS; the workload of @primetime/fuzz",
  expect: "clean",
  arity: 2,
  harnessTasks: ["main"],
  // The fuzzer's model accepts the errno a failing allocation gives (-ENOMEM, -EFAULT for a
  // user access whose page could not be allocated, ...) wherever an allocation failed meanwhile.
  faultTolerant: true,
  build: buildFuzz(FUZZ_SIZES),
};

/**
 * fuzz-private: the fuzz workload with the drivers' private ioctls (`FuzzOptions.private`): on a
 * qxl or vmwgfx device, qxl's ALLOC, MAP, GETPARAM, CLIENTCAP, ALLOC_SURF, UPDATE_AREA and
 * EXECBUFFER and vmwgfx's ALLOC_BO, HANDLE_CLOSE, SYNCCPU, surfaces, EXECBUF, fences and
 * contexts, from @primetime/uapi's headers alone, with valid and invalid arguments; their
 * handles join the generic operations (GEM_CLOSE, FLINK, PRIME). The sizes are `fuzz`'s, drawn
 * from the seed; the scenario name is the token's unit (`fuzz-private@qxl+vgem`), so the fuzz
 * package's `cli log --token` replays it with the option. `fuzz` itself draws as before.
 */
export const FUZZ_PRIVATE: CampaignScenario = {
  name: "fuzz-private",
  description:
    "the fuzz workload with the drivers' private ioctls (qxl: ALLOC, MAP, GETPARAM, CLIENTCAP, ALLOC_SURF, UPDATE_AREA, EXECBUFFER; vmwgfx: ALLOC_BO, HANDLE_CLOSE, SYNCCPU, surfaces, EXECBUF, fences, contexts) on both devices: every syscall returns 0 or -errno and agrees with the fuzzer's reference model",
  kernelRef:
    "drivers/gpu/drm/qxl/qxl_ioctl.c, drivers/gpu/drm/vmwgfx/vmwgfx_drv.c (the ioctl table), include/uapi/drm/qxl_drm.h, vmwgfx_drm.h; the workload of @primetime/fuzz",
  expect: "clean",
  arity: 2,
  harnessTasks: ["main"],
  faultTolerant: true,
  build: buildFuzz({ ...FUZZ_SIZES, private: true }),
};

/**
 * fuzz-kms: the fuzz workload with KMS framebuffers (`FuzzOptions.kms`): ADDFB2, legacy ADDFB,
 * RMFB, CLOSEFB, GETFB, GETFB2 and DIRTYFB from clients (valid and bad arguments, live, closed
 * and never-valid handles, their own, another file's and stale framebuffer ids), and the display
 * server, each device's DRM master, as the compositor: it opens the buffers its clients name
 * (GEM_OPEN of a flink name) or send (a dma-buf fd over SCM_RIGHTS, imported with
 * PRIME_FD_TO_HANDLE on the exporter's device or another driver's), makes framebuffers of them,
 * flushes them (DIRTYFB), closes its handles and fds, describes and removes them. The model
 * checks each result, and that a framebuffer keeps its buffer's flink name (v6.16's handle
 * reference: `gem.fb-without-handle-ref` takes it away). The sizes are `fuzz`'s; the scenario
 * name is the token's unit (`fuzz-kms@qxl+qxl`). `fuzz` itself draws as before.
 */
export const FUZZ_KMS: CampaignScenario = {
  name: "fuzz-kms",
  description:
    "the fuzz workload with KMS framebuffers (ADDFB2, ADDFB, RMFB, CLOSEFB, GETFB, GETFB2, DIRTYFB) from clients and from a display server that makes framebuffers of its clients' buffers, by flink name or by PRIME (dma-buf fds over SCM_RIGHTS, imported across drivers): every syscall returns 0 or -errno and agrees with the fuzzer's reference model",
  kernelRef:
    "drivers/gpu/drm/drm_framebuffer.c, drm_gem_framebuffer_helper.c, drm_damage_helper.c, drm_prime.c, drm_ioctl.c, drm_auth.c; the workload of @primetime/fuzz",
  expect: "clean",
  arity: 2,
  harnessTasks: ["main"],
  faultTolerant: true,
  build: buildFuzz({ ...FUZZ_SIZES, kms: true }),
};

/**
 * The swarm plan of `fuzz-fd-reuse`, as the fuzz package writes plans: every process races at
 * weight 30, pairing close() of its card fd with GEM_CLOSE through that number and a child
 * process's opens (which reuse the fd number, and the freed file's memory). The fuzz package's
 * `STRESS_FD_REUSE_PLAN`, so that its CLI logs this scenario's tokens (`cli log --token`).
 */
export const FD_REUSE_PLAN = STRESS_FD_REUSE_PLAN;

const FD_REUSE: readonly FuzzProcessPlan[] = planFromScenarioName(`fuzz plan=${FD_REUSE_PLAN}`)!;

/**
 * fuzz-fd-reuse: the fuzz workload on one driver (two devices of it) with every process on the
 * swarm plan FD_REUSE_PLAN, the plan under which the fuzz package finds `fs.fget-no-recheck`
 * (an fd lookup racing close() returns a file another process allocated in the freed file's
 * memory). The plan is part of the scenario, so a token names it (`fuzz-fd-reuse@vgem`) and
 * `replay` and `minimize` rebuild it. Its sizes are the fuzz package's defaults (3 processes of
 * 2 threads, 10 operations each), as in that package's hunt of the toggle: with `fuzz`'s sizes
 * drawn from the seed (fewer processes and operations) POS needed twice the schedules (mean 918
 * against 435 over base seeds 1-8), and with one or two processes of one thread it missed most
 * base seeds within 3,000.
 */
export const FUZZ_FD_REUSE: CampaignScenario = {
  name: "fuzz-fd-reuse",
  description: `the fuzz workload with every process on the swarm plan ${FD_REUSE_PLAN}: close() of a card fd races GEM_CLOSE through its number and a child's opens that reuse it`,
  kernelRef:
    "fs/file.c (__fget_files_rcu(), fd_install()), fs/open.c, drivers/gpu/drm/drm_file.c, drm_ioctl.c; the workload of @primetime/fuzz",
  expect: "clean",
  arity: 1,
  harnessTasks: ["main"],
  faultTolerant: true,
  finds: ["fs.fget-no-recheck"],
  build: buildFuzz({ plan: FD_REUSE }),
};
