/**
 * Point labels built once. A label such as `kref_put(gem_object#3)` names an operation and its
 * object; building it with a template literal at every point allocates a new string that the
 * trace must then hash to find its id. `opLabel(op, object)` returns one string per (op, object)
 * pair for the whole process, so a hot point allocates nothing and the trace finds its id by a
 * hash the string already carries. Objects are named per run (`#3` counts from 1 in every run),
 * so a search keeps meeting the same few hundred pairs; past MAX_LABELS pairs (a model that puts
 * ever-new values in its labels) the cache starts over.
 */
const MAX_LABELS = 1 << 18;
const byOp = new Map<string, Map<string, string>>();
let size = 0;

/** `${op}(${object})`, the same string object every time for the same pair. */
export function opLabel(op: string, object: string): string {
  return byOp.get(op)?.get(object) ?? addLabel(op, object);
}

function addLabel(op: string, object: string): string {
  if (size >= MAX_LABELS) {
    byOp.clear();
    size = 0;
  }
  let m = byOp.get(op);
  if (m === undefined) {
    m = new Map();
    byOp.set(op, m);
  }
  const s = `${op}(${object})`;
  m.set(object, s);
  size++;
  return s;
}

const byAffix = new Map<string, Map<string, Map<string, string>>>();
let affixSize = 0;

/**
 * `${before}${object}${after}`, the same string object every time for the same triple: for
 * labels that are not `op(object)` (`test_bit(SIGNALED, fence#3)`, `vgem_object#2.dma_buf = NULL`).
 * Like opLabel(), past MAX_LABELS triples the cache starts over.
 */
export function fmtLabel(before: string, object: string, after: string): string {
  return byAffix.get(before)?.get(after)?.get(object) ?? addAffixLabel(before, object, after);
}

function addAffixLabel(before: string, object: string, after: string): string {
  if (affixSize >= MAX_LABELS) {
    byAffix.clear();
    affixSize = 0;
  }
  let b = byAffix.get(before);
  if (b === undefined) {
    b = new Map();
    byAffix.set(before, b);
  }
  let a = b.get(after);
  if (a === undefined) {
    a = new Map();
    b.set(after, a);
  }
  const s = `${before}${object}${after}`;
  a.set(object, s);
  affixSize++;
  return s;
}
