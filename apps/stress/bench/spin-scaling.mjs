// The machine's parallelism for the campaign bench's speed-up part, measured in the same minutes:
// a pure integer loop (no allocation, no GC) on this thread alone, then the same loop on this
// thread and a worker thread at once. Prints one JSON line: {one, two, scaling}, scaling being
// 2 x one / two (2.0 on two free cores; about 1.0 when other jobs leave one core free).
import { isMainThread, parentPort, Worker } from "node:worker_threads";

const N = 2e8;
const spin = () => {
  let x = 0;
  for (let i = 0; i < N; i++) x = (x * 31 + i) | 0;
  return x;
};
if (!isMainThread) parentPort.postMessage(spin());
else {
  spin(); // compile it
  let t0 = performance.now();
  spin();
  const one = (performance.now() - t0) / 1000;
  const w = new Worker(new URL(import.meta.url));
  await new Promise((r) => w.once("online", r));
  t0 = performance.now();
  await Promise.all([new Promise((r) => w.once("message", r)), Promise.resolve().then(spin)]);
  const two = (performance.now() - t0) / 1000;
  await w.terminate();
  console.log(JSON.stringify({ one, two, scaling: (2 * one) / two }));
}
