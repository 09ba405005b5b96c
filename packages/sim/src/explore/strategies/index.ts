/**
 * The built-in strategies, registered once. A new strategy is one file beside these (its
 * `Strategy` class and its `StrategyDefinition`) plus one line here.
 */

import { DFS } from "./dfs.js";
import { GUIDED } from "./guided.js";
import { PCT } from "./pct.js";
import { PORTFOLIO } from "./portfolio.js";
import { POS } from "./pos.js";
import { RANDOM } from "./random.js";
import { registerStrategy } from "./registry.js";
import { REPLAY } from "./replay.js";

for (const def of [RANDOM, PCT, DFS, REPLAY, POS, GUIDED, PORTFOLIO]) registerStrategy(def);

export {
  findStrategy,
  getStrategy,
  listStrategies,
  registerStrategy,
  type SearchSession,
  type SearchStep,
  type StrategyDefinition,
  type StrategyParams,
  samplingSession,
  strategyByCode,
} from "./registry.js";
