import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { COMPOSITOR } from "./compositor.js";
import { CROSS_SHARE } from "./cross-share.js";
import { DMABUF_READLINK } from "./dmabuf-readlink.js";
import { EVICTION_UNDER_SHARING } from "./eviction-under-sharing.js";
import { FENCE_WAIT } from "./fence-wait.js";
import { FUZZ, FUZZ_FD_REUSE, FUZZ_KMS, FUZZ_PRIVATE } from "./fuzz.js";
import { MMAP_VS_CLOSE } from "./mmap-vs-close.js";
import { SURFACE_REAPER } from "./surface-reaper.js";
import { SYNCOBJ_SUBMIT } from "./syncobj-submit.js";
import { UNIX_GC, UNIX_GC_LISTEN, UNIX_GC_PEEK } from "./unix-gc.js";
import { UNIX_OOB } from "./unix-oob.js";

/** The cross-driver sharing workloads (see README.md). */
export const SHARING_SCENARIOS: readonly CampaignScenario[] = [
  CROSS_SHARE,
  COMPOSITOR,
  MMAP_VS_CLOSE,
  FENCE_WAIT,
  SURFACE_REAPER,
  EVICTION_UNDER_SHARING,
  FUZZ,
  FUZZ_PRIVATE,
  FUZZ_KMS,
  FUZZ_FD_REUSE,
  UNIX_GC,
  UNIX_GC_PEEK,
  UNIX_GC_LISTEN,
  UNIX_OOB,
  DMABUF_READLINK,
  SYNCOBJ_SUBMIT,
];
