// The machine's parallelism for the campaign bench's speed-up part, measured in the same minutes:
// a pure integer loop (no allocation, no GC) on this thread alone, then the same loop on this
// thread and a worker thread at once. Prints one JSON line: {one, two, scaling, wide}, scaling
// being 2 x one / two (2.0 on two free cores; about 1.0 when other jobs leave one core free).
// Two loops: `scaling` is a chain of dependent multiplies, which waits on the multiplier's
// latency and leaves most of a core's execution units idle, so two hardware threads of one
// physical core (SMT siblings, which a virtual machine's vCPUs can be) also give it about 2.0;
// `wide` is eight independent add/xor chains, which keep a core's units busy, so it reads about
// 2.0 only on two cores of their own and less where two vCPUs share a physical core.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const N = 2e8;
const spin = () => {
  let x = 0;
  for (let i = 0; i < N; i++) x = (x * 31 + i) | 0;
  return x;
};
const W = 1e8;
const wideSpin = () => {
  let a = 0;
  let b = 1;
  let c = 2;
  let d = 3;
  let e = 4;
  let f = 5;
  let g = 6;
  let h = 7;
  for (let i = 0; i < W; i++) {
    a = (a + i) | 0;
    b ^= i;
    c = (c + (i << 1)) | 0;
    d ^= i >> 1;
    e = (e + 3) | 0;
    f ^= i + 7;
    g = (g - i) | 0;
    h ^= i << 3;
  }
  return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h;
};
const loops = { spin, wideSpin };

/** Seconds of `loop` alone, then of `loop` here and on a (started, compiled) worker at once. */
async function scaling(name) {
  const loop = loops[name];
  loop(); // compile it
  let t0 = performance.now();
  loop();
  const one = (performance.now() - t0) / 1000;
  const w = new Worker(new URL(import.meta.url), { workerData: name });
  // The worker compiles its copy before it says it is ready.
  await new Promise((r) => w.once("message", r));
  t0 = performance.now();
  w.postMessage("go");
  await Promise.all([new Promise((r) => w.once("message", r)), Promise.resolve().then(loop)]);
  const two = (performance.now() - t0) / 1000;
  await w.terminate();
  return { one, two, scaling: (2 * one) / two };
}

if (!isMainThread) {
  const loop = loops[workerData];
  loop();
  parentPort.on("message", () => parentPort.postMessage(loop()));
  parentPort.postMessage("ready");
} else {
  const dep = await scaling("spin");
  const wide = await scaling("wideSpin");
  console.log(JSON.stringify({ ...dep, wide: wide.scaling }));
}
