/**
 * @primetime/dma-buf: dma-buf, attachments, dma_fence, dma_resv (see README.md).
 */

export * from "./bufinfo.js";
export * from "./dma-buf.js";
export * from "./dma-buf-attachment.js";
export * from "./dma-buf-ioctl.js";
export * from "./dma-buf-poll.js";
export * from "./dma-fence.js";
export * from "./dma-fence-array.js";
export * from "./dma-fence-chain.js";
export * from "./dma-fence-unwrap.js";
export * from "./dma-heap.js";
export * from "./dma-resv.js";
export * from "./scatterlist.js";
export * from "./sw-sync.js";
export * from "./sync-file.js";
