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
