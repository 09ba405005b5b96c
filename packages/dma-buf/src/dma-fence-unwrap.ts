/**
 * dma_fence_unwrap (drivers/dma-buf/dma-fence-unwrap.c, include/linux/dma-fence-unwrap.h of
 * Linux v6.18): iterating over the fences a container stands for, through dma_fence_chain nodes
 * and dma_fence_array members.
 */

import { type DmaFence, dmaFenceGet } from "./dma-fence.js";
import { DmaFenceArray } from "./dma-fence-array.js";
import { DmaFenceChain, dmaFenceChainContained, dmaFenceChainWalk } from "./dma-fence-chain.js";

/**
 * Models dma_fence_is_container(): a dma_fence_array or a dma_fence_chain node.
 * Locking: none. References: none.
 */
export function dmaFenceIsContainer(fence: DmaFence): boolean {
  return fence instanceof DmaFenceArray || fence instanceof DmaFenceChain;
}

/**
 * Models dma_fence_unwrap_for_each(fence, &cursor, head), i.e. dma_fence_unwrap_first() and
 * dma_fence_unwrap_next(): calls `body` with every fence `head` stands for, in order: for each
 * chain node from `head` along `prev` (dma_fence_chain_walk(), which unlinks signalled
 * predecessors on the way), the fence it contains (dma_fence_chain_contained()), an array's
 * fences one by one (an empty array gives none), any other fence itself. Signalled fences are not
 * skipped. A fence that is neither is visited once.
 * Locking: RCU inside the chain walk; `body` may sleep.
 * References: the cursor holds one on the current chain node (taken on `head` by
 * dma_fence_unwrap_first(), moved along by the walk, dropped at the end); the fences `body` gets
 * are held through it, not given to `body`.
 */
export async function dmaFenceUnwrapForEach(
  head: DmaFence,
  body: (fence: DmaFence) => void | Promise<void>,
): Promise<void> {
  // dma_fence_unwrap_first(): cursor->chain = dma_fence_get(head).
  let chain: DmaFence | null = await dmaFenceGet(head);
  while (chain) {
    // __dma_fence_unwrap_array(): cursor->array = dma_fence_chain_contained(cursor->chain),
    // then dma_fence_array_first() and dma_fence_array_next() over its index.
    const array = dmaFenceChainContained(chain);
    if (array instanceof DmaFenceArray) {
      for (let i = 0; i < array.fences.length; i++) await body(array.fences[i]!);
    } else await body(array);
    // dma_fence_unwrap_next() past the array's end: cursor->chain = dma_fence_chain_walk().
    chain = await dmaFenceChainWalk(chain);
  }
}
