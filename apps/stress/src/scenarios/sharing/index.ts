import type { CampaignScenario } from "../../campaign/campaign-scenario.js";

/** The cross-driver sharing workloads (see README.md). */
export const SHARING_SCENARIOS: readonly CampaignScenario[] = [];
