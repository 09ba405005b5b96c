/**
 * RCU-protected doubly linked lists (include/linux/rculist.h): updaters add and remove entries
 * under their lock; readers traverse under rcu_read_lock() while entries come and go.
 *
 * A `ListHead` is both a list head and the node an entry embeds (`struct list_head`); a node
 * knows its entry (container_of()) and, optionally, the object whose memory it lives in, so a
 * traversal through a freed entry is a KASAN report of that object. list_del_rcu() keeps the
 * removed node's `next` so a reader standing on it can go on, and poisons `prev`; the entry may
 * be freed only after a grace period. CONFIG_DEBUG_LIST's checks are on: corrupted or double
 * adds and deletes are `warn` splats and the operation is skipped, as in lib/list_debug.c.
 */

import { bug, type Owner, opLabel, point, report } from "@primetime/sim";
import { type LockdepCondition, rcuListCheck } from "./rcu-lockdep.js";

/**
 * Models struct list_head. Create a list head with `new ListHead(name)` and an entry's node with
 * `new ListHead(name, entry, owner)`; both start empty (INIT_LIST_HEAD()). Use the functions
 * below rather than the links.
 */
export class ListHead<T = unknown> {
  /** The next node; RCU-protected: readers follow it (`list_next_rcu()`). */
  next: ListHead<T> = this;
  /** The previous node; null once list_del_rcu() poisoned it (LIST_POISON2). Updaters only. */
  prev: ListHead<T> | null = this;

  /**
   * @param name names the list or entry in labels and splats
   * @param entry the entry this node is embedded in (null for a list head)
   * @param owner the object whose memory holds the node: touching the node checks it is alive
   */
  constructor(
    readonly name: string,
    readonly entry: T | null = null,
    readonly owner?: Owner,
  ) {}
}

function touch(node: ListHead<unknown>, op: string): void {
  node.owner?.checkAccess?.(op);
}

/** Models __list_add_valid() (CONFIG_DEBUG_LIST). */
function listAddValid<T>(node: ListHead<T>, prev: ListHead<T>, next: ListHead<T>): boolean {
  let msg: string | null = null;
  if (next.prev !== prev)
    msg = `list_add corruption. next->prev should be prev (${prev.name}), but was ${next.prev?.name ?? "LIST_POISON2"}. (next=${next.name}).`;
  else if (prev.next !== next)
    msg = `list_add corruption. prev->next should be next (${next.name}), but was ${prev.next.name}. (prev=${prev.name}).`;
  else if (node === prev || node === next)
    msg = `list_add double add: new=${node.name}, prev=${prev.name}, next=${next.name}.`;
  if (msg === null) return true;
  report("warn", msg, { object: node.name });
  return false;
}

/** Models __list_del_entry_valid() (CONFIG_DEBUG_LIST). */
function listDelEntryValid<T>(node: ListHead<T>): boolean {
  const prev = node.prev;
  const next = node.next;
  let msg: string | null = null;
  if (prev === null) msg = `list_del corruption, ${node.name}->prev is LIST_POISON2`;
  else if (prev.next !== node)
    msg = `list_del corruption. prev->next should be ${node.name}, but was ${prev.next.name}`;
  else if (next.prev !== node)
    msg = `list_del corruption. next->prev should be ${node.name}, but was ${next.prev?.name ?? "LIST_POISON2"}`;
  if (msg === null) return true;
  report("warn", msg, { object: node.name });
  return false;
}

/** Models __list_add_rcu(): initialise the new node, then publish it with one store. */
function listAddRcuBetween<T>(node: ListHead<T>, prev: ListHead<T>, next: ListHead<T>): void {
  touch(prev, "list_add_rcu");
  touch(next, "list_add_rcu");
  touch(node, "list_add_rcu");
  if (!listAddValid(node, prev, next)) return;
  node.next = next;
  node.prev = prev;
  prev.next = node; // rcu_assign_pointer(list_next_rcu(prev), new)
  next.prev = node;
}

/**
 * Models list_add_rcu(new, head): inserts `node` right after `head` (a stack), published to
 * concurrent readers by a single pointer store.
 * Locking: the update-side lock of the list; readers may traverse concurrently.
 * References: the list holds whatever the caller's protocol says (usually the creation ref).
 */
export async function listAddRcu<T>(node: ListHead<T>, head: ListHead<T>): Promise<void> {
  await point(opLabel("list_add_rcu", node.name));
  listAddRcuBetween(node, head, head.next);
}

/**
 * Models list_add_tail_rcu(new, head): inserts `node` before `head` (a queue).
 * Locking: the update-side lock of the list.
 * References: as listAddRcu().
 */
export async function listAddTailRcu<T>(node: ListHead<T>, head: ListHead<T>): Promise<void> {
  await point(opLabel("list_add_tail_rcu", node.name));
  // head->prev is never poisoned for a list head; a poisoned one fails the validity check.
  listAddRcuBetween(node, head.prev ?? head, head);
}

/**
 * Models __list_del_entry(entry) (include/linux/list.h): CONFIG_DEBUG_LIST's check, then
 * __list_del(entry->prev, entry->next); a corrupted entry is reported and left linked.
 */
function listDelEntry<T>(node: ListHead<T>): void {
  if (!listDelEntryValid(node)) return;
  const prev = node.prev!;
  const next = node.next;
  touch(prev, "list_del_rcu");
  touch(next, "list_del_rcu");
  next.prev = prev;
  prev.next = next; // WRITE_ONCE(): readers skip the entry from now on
}

/**
 * Models list_del_rcu(entry) (include/linux/rculist.h): `__list_del_entry(entry);
 * entry->prev = LIST_POISON2;`. Unlinks `node`; readers already on it still follow its `next`,
 * `prev` is poisoned. The entry must not be freed before a grace period (synchronizeRcu() or
 * callRcu()), nor added to a list again before one. A corrupted entry (CONFIG_DEBUG_LIST's
 * check fails: a `warn` splat "list_del corruption, ...") is not unlinked, but its `prev` is
 * poisoned all the same, as the kernel's poisoning sits outside __list_del_entry(); so a node
 * deleted twice reports "->prev is LIST_POISON2" and nothing else changes.
 * Locking: the update-side lock of the list.
 * References: the list's reference passes to the caller, to drop after a grace period.
 */
export async function listDelRcu<T>(node: ListHead<T>): Promise<void> {
  await point(opLabel("list_del_rcu", node.name));
  touch(node, "list_del_rcu");
  listDelEntry(node);
  node.prev = null; // LIST_POISON2
}

/**
 * Models list_replace_rcu(old, new): `node` takes `old`'s place in one published store; `old`
 * is freed after a grace period. Replacing an entry already deleted dereferences LIST_POISON2:
 * a `bug` splat (an oops kills the task).
 * Locking: the update-side lock of the list.
 * References: the list's reference to `old` passes to the caller.
 */
export async function listReplaceRcu<T>(old: ListHead<T>, node: ListHead<T>): Promise<void> {
  await point(`list_replace_rcu(${old.name})`);
  touch(old, "list_replace_rcu");
  touch(node, "list_replace_rcu");
  const prev = old.prev;
  // No CONFIG_DEBUG_LIST check here in the kernel: new->prev = LIST_POISON2 faults.
  if (prev === null)
    bug(`general protection fault in list_replace_rcu: ${old.name}->prev is LIST_POISON2`, {
      object: old.name,
    });
  node.next = old.next;
  node.prev = prev;
  touch(prev, "list_replace_rcu");
  prev.next = node; // rcu_assign_pointer(list_next_rcu(new->prev), new)
  touch(node.next, "list_replace_rcu");
  node.next.prev = node;
  old.prev = null; // LIST_POISON2
}

/**
 * Models list_empty(head) (READ_ONCE(head->next) == head).
 * Locking: none; lockless callers get a snapshot.
 * References: none.
 */
export async function listEmpty<T>(head: ListHead<T>): Promise<boolean> {
  await point(opLabel("list_empty", head.name));
  touch(head, "list_empty");
  return head.next === head;
}

/**
 * Models list_first_or_null_rcu(head, type, member): the first entry, or null for an empty list.
 * Locking: rcu_read_lock() (not checked by the kernel here either).
 * References: none; the entry is valid until the section ends.
 */
export async function listFirstOrNullRcu<T>(head: ListHead<T>): Promise<T | null> {
  await point(opLabel("list_first_or_null_rcu", head.name));
  touch(head, "list_first_or_null_rcu");
  const first = head.next;
  return first === head ? null : first.entry;
}

/**
 * Models list_for_each_entry_rcu(pos, head, member, cond): yields each entry, one scheduling
 * point per `next` load, so entries may be added and removed while it runs. A traversal outside
 * a read-side section, without the protection `cond` names, is an `rcu` splat "RCU-list
 * traversed in non-reader section!" (__list_check_rcu()). Following the `next` of an entry that
 * was freed is the owner's KASAN report.
 *
 * ```ts
 * await rcuReadLock();
 * for await (const e of listForEachEntryRcu(head)) if (e.id === id) found = e;
 * await rcuReadUnlock();
 * ```
 * Locking: rcu_read_lock(), or the update-side lock `cond` checks.
 * References: none; an entry is valid until the section ends (take a reference to keep it).
 */
export async function* listForEachEntryRcu<T>(
  head: ListHead<T>,
  cond?: LockdepCondition,
): AsyncGenerator<T, void, undefined> {
  await point(opLabel("list_for_each_entry_rcu", head.name));
  rcuListCheck(head.name, cond);
  touch(head, "list_for_each_entry_rcu");
  let pos = head.next;
  while (pos !== head) {
    yield pos.entry as T;
    await point(`list_for_each_entry_rcu(${head.name}): ${pos.name}->next`);
    touch(pos, "list_for_each_entry_rcu");
    pos = pos.next;
  }
}

/**
 * Models list_for_each_entry_safe() on the update side: the entries, in order, as a snapshot the
 * caller may delete from while iterating.
 * Locking: the update-side lock of the list, which keeps the list from changing: reading it
 * takes no scheduling point because no other task may write it meanwhile.
 * References: none.
 */
export function listEntries<T>(head: ListHead<T>): T[] {
  const out: T[] = [];
  touch(head, "list_for_each_entry");
  for (let pos = head.next; pos !== head; pos = pos.next) {
    touch(pos, "list_for_each_entry");
    out.push(pos.entry as T);
  }
  return out;
}
