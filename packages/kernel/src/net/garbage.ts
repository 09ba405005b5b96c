/**
 * The garbage collector for AF_UNIX sockets (net/unix/garbage.c, Linux v6.18, read in the
 * 6.18.35 stable tree): Kuniyuki Iwashima's collector of v6.10, a graph whose vertices are the
 * unix sockets whose fds are in flight and whose edges go from such a socket to the socket whose
 * receive queue holds its fd; Tarjan's algorithm finds the strongly connected components, and an
 * SCC every vertex of which is referenced only by the in-flight skbs of the SCC itself (file
 * count == out-degree, no edge leaving it) is garbage: the collector splices the receive queues
 * of its sockets into a hitlist and purges it, dropping the in-flight file references that kept
 * the cycle alive.
 *
 * MSG_PEEK gives the peeker new fds for the files of a queued skb (scm_fp_dup(): get_file())
 * without taking anything the collector holds. Between the collector's unix_vertex_dead() of two
 * sockets of an SCC, a peek can take a reference to the first (already judged dead) and a
 * close() can drop the last user fd of the second: the SCC looks dead while one of its sockets
 * has a live fd, and the collector purges the receive queue of a socket in use. unix_peek_fpl()
 * bumps the unix_peek_seq seqcount while the collector runs, and unix_scc_dead() defers an SCC
 * whose check a peek overlapped ("af_unix: Give up GC if MSG_PEEK intervened.", e5b31d988a41,
 * v7.0-rc4, in 6.18.y). The historic toggle `unix.gc-peek-no-seqcount` removes that check.
 *
 * Embryos: a socket connect() created waits on its listener's queue until accept(); fds sent to
 * it are in flight in its queue, but only the listener's fd reaches them, so an edge into an
 * embryo counts as an edge into its listener (unix_edge_successor() follows u->listener),
 * accept() clears u->listener (unix_update_edges()), and a dead listener's SCC collects its
 * embryos' queues (unix_collect_skb()'s TCP_LISTEN branch).
 *
 * Faithfulness: one user (fpl->user): the per-user in-flight count is the machine's. Lists are arrays
 * (list_move_tail() moves an element to the end of another). The collector's work item runs on
 * system_unbound_wq (v6.18's system_dfl_wq, the renamed unbound queue).
 */

import {
  bug,
  defineKnownWindow,
  defineToggle,
  opLabel,
  point,
  RESOLVED,
  report,
  SimLocal,
  toggleEnabled,
} from "@primetime/sim";
import { type File, fileCount } from "../fs/file.js";
import { ENOMEM, isErr } from "../include/errno.js";
import {
  type SkBuff,
  skbDequeue,
  skbQueueSpliceInit,
  skbQueueTail,
  TCP_LISTEN,
  type UnixSock,
} from "../include/net/af-unix.js";
import { flushWork, queueWork, systemUnboundWq, WorkStruct } from "../kernel/workqueue.js";
import { lockdepAssertHeld } from "../locking/lockdep.js";
import { SpinLock } from "../locking/spinlock.js";
import { KmemCache, kfree, kmalloc, SlabObject } from "../mm/slab.js";
import { SCM_MAX_FD, type ScmFpList } from "./scm.js";

/** The historic toggle: see unixSccDead(). */
export const UNIX_GC_PEEK_NO_SEQCOUNT = defineToggle({
  name: "unix.gc-peek-no-seqcount",
  description:
    "unix_scc_dead() without the unix_peek_seq retry and unix_peek_fds() without unix_peek_fpl(), as from v6.10 (the new collector; " +
    '118f457da9ed "af_unix: Remove lock dance in unix_peek_fds()." dropped the unix_gc_lock dance that CVE-2021-0920\'s fix cbcf01128d0a had added) ' +
    "until the fix: a recvmsg(MSG_PEEK) that takes a reference to a socket of an SCC after unix_vertex_dead() judged it, followed by a close() of " +
    "the SCC's last user fd before the next vertex is judged, makes the collector purge the receive queue of a socket the peeker holds an fd to. " +
    "A reader of that socket that has taken its head skb under unix_state_lock() (not the queue lock) then uses the skb the collector frees: " +
    "KASAN use-after-free (or double-free) on the skb, and the files it carries are put twice.",
  fixedBy: "af_unix: Give up GC if MSG_PEEK intervened.",
  commit: "e5b31d988a41549037b8d8721a3c3cae893d8670",
  kind: "historic",
  kernels:
    "v6.10 up to v7.0-rc3 (fixed in v7.0-rc4; queued for 6.18.y, April 2026; the 6.12, 6.6 and 6.1 backports of the v6.10 collector needed their own)",
  foundBy:
    "packages/kernel src/net/garbage.test.ts (an SCC of two sockets in flight, a peek and a close racing the collector, and a read of the peeked socket)",
});

/**
 * A hypothetical toggle: the v6.10 collector without the listener redirect of
 * unix_edge_successor(). No released kernel ran it: the series that brought the collector
 * (v6.10-rc1) added u->listener ("af_unix: Save listener for embryo socket.") and
 * unix_edge_successor() with unix_update_edges() ("af_unix: Fix up unix_edge.successor for
 * embryo socket.", dcf70df2048d) before "af_unix: Replace garbage collection algorithm."
 * switched the collector on. It shows what the redirect is for.
 */
export const UNIX_GC_EMBRYO_SUCCESSOR_NOT_LISTENER = defineToggle({
  name: "unix.gc-embryo-successor-not-listener",
  description:
    "unix_edge_successor() returns the embryo's own vertex instead of its listener's: an fd in flight in an embryo's queue " +
    "(sent by the connecting socket before accept()) then points at a socket that is never in flight, so a listener whose " +
    "last fd sits in its own embryo's queue is never judged dead: kmemleak reports the listener, the embryo, the skbs and " +
    "the scm_fp_list once every fd is closed.",
  fixedBy: "af_unix: Fix up unix_edge.successor for embryo socket.",
  commit: "dcf70df2048d27c5d186f013f101a4aefd63aa41",
  kind: "hypothetical",
  kernels:
    "none released: the state between ad081928a8b0 and dcf70df2048d in net-next (March 2024), where the old collector still ran; " +
    "the v6.10 collector has the redirect from its first release",
  foundBy:
    "packages/kernel src/net/af-unix-listen.test.ts (a listener's fd sent into its own embryo, every fd closed; kmemleak at quiesce)",
});

/**
 * The window v6.18.35 still has: unix_gc() sets gc_in_progress and queues the work item, and
 * __unix_gc() clears it at its end. A unix_gc() while __unix_gc() runs re-queues the work; the
 * running one then writes gc_in_progress false, and the re-queued one walks the graph with it
 * false, so a MSG_PEEK during that walk skips unix_peek_fpl()'s seqcount barrier and an SCC it
 * took a reference into can be judged dead and purged under the peeker. The fix switch sets
 * gc_in_progress at the top of __unix_gc(), as d82ba05263c6's 6.12 stable backport does (the
 * mainline fix moved the set from the callers, v7.1's unix_schedule_gc(), into unix_gc()).
 */
export const UNIX_GC_REQUEUED_NOT_IN_PROGRESS = defineKnownWindow({
  name: "unix.gc-requeued-not-in-progress",
  what:
    "a collection re-queued while one runs walks the graph with gc_in_progress false (the running " +
    "one cleared it at its end), so a MSG_PEEK during the walk does not bump unix_peek_seq: an SCC " +
    "judged dead around the peek and a close() is purged while the peeker holds an fd to one of " +
    "its sockets, and a reader of that socket uses the skb the collector frees: KASAN " +
    "slab-use-after-free (in __unix_gc, unix_detach_fds or unix_del_edges), with every toggle off",
  where:
    "net/unix/garbage.c: unix_gc() (WRITE_ONCE(gc_in_progress, true), then queue_work() of a " +
    "running work item: re-queued) against __unix_gc()'s closing WRITE_ONCE(gc_in_progress, " +
    "false); unix_peek_fpl() (returns when !READ_ONCE(gc_in_progress)) from unix_peek_fds() in " +
    "unix_stream_read_generic()",
  since: "af_unix: Run GC on only one CPU.",
  sinceCommit: "8b90a9f819dc",
  kernels:
    "the collectors with unix_peek_fpl() (e5b31d988a41 and its stable backports) before " +
    "d82ba05263c6; v6.18.35 has it (fixed in 6.18.38, 6.12.95, 6.6.144 and 6.1.183 per " +
    "CVE-2026-53361's OSV record)",
  proposedFix:
    "WRITE_ONCE(gc_in_progress, true) at the top of __unix_gc(), before unix_gc_lock, as the " +
    'stable backports of d82ba05263c69fa2437fe93e4e561cc40f4c03af ("af_unix: Set gc_in_progress ' +
    'to true in unix_gc().", Kuniyuki Iwashima, reported by Igor Ushakov) do',
  patch: "20260501073945.1884564-1-kuniyu@google.com",
  foundBy:
    "packages/kernel src/net/garbage.test.ts (requeuedGcVsPeek: an SCC of two sockets, a peek " +
    "and a close, and a second process whose socketpairs' releases re-queue the collector; POS)",
});

/** Models struct unix_edge: `predecessor`'s fd is in flight in `successor`'s receive queue. */
export interface UnixEdge {
  predecessor: UnixSock;
  successor: UnixSock;
}

/** The cache of vertices (kmalloc() in unix_prepare_fpl()). */
export const unixVertexCache = new KmemCache("unix_vertex");
/** The cache of edge arrays (kvmalloc_array() in unix_prepare_fpl()). */
export const unixEdgesCache = new KmemCache("unix_edge");

/**
 * Models struct unix_vertex: a socket whose fd is in flight.
 *
 * Locking: unix_gc_lock.
 * References: none; owned by the socket (u->vertex) while in flight, else by an fpl's list.
 */
export class UnixVertex extends SlabObject {
  /** Models vertex->edges: this socket's in-flight fds, one edge each. */
  readonly edges: UnixEdge[] = [];
  /** Models vertex->scc_entry: the vertices of its SCC as the last full walk grouped them. */
  scc: UnixVertex[] = [];
  /** Models out_degree. */
  outDegree = 0;
  /** Models index (Tarjan's index, or the unvisited/grouped marks). */
  index = 0;
  /** Models scc_index (Tarjan's lowlink). */
  sccIndex = 0;
}

/** The edge array of an fpl (kvmalloc_array()). */
class UnixEdges extends SlabObject {
  readonly edges: UnixEdge[] = [];
}

/** Models UNIX_GRAPH_NOT_CYCLIC, UNIX_GRAPH_MAYBE_CYCLIC, UNIX_GRAPH_CYCLIC. */
export const UNIX_GRAPH_NOT_CYCLIC = 0;
export const UNIX_GRAPH_MAYBE_CYCLIC = 1;
export const UNIX_GRAPH_CYCLIC = 2;

/** Models UNIX_VERTEX_INDEX_MARK1, _MARK2, _START. */
const UNIX_VERTEX_INDEX_MARK1 = 0;
const UNIX_VERTEX_INDEX_MARK2 = 1;
const UNIX_VERTEX_INDEX_START = 2;

/** Models UNIX_INFLIGHT_TRIGGER_GC. */
export const UNIX_INFLIGHT_TRIGGER_GC = 16000;
/** Models UNIX_INFLIGHT_SANE_USER. */
export const UNIX_INFLIGHT_SANE_USER = SCM_MAX_FD * 8;

/** The collector's globals (static in garbage.c), per simulation. */
interface UnixGc {
  /** Models unix_gc_lock. */
  readonly lock: SpinLock;
  /** Models unix_peek_lock (static in unix_peek_fpl()). */
  readonly peekLock: SpinLock;
  /** Models unix_tot_inflight. */
  totInflight: number;
  /** Models fpl->user->unix_inflight for the one user. */
  userInflight: number;
  /** Models unix_graph_state. */
  graphState: number;
  /** Models unix_unvisited_vertices. */
  unvisited: UnixVertex[];
  /** Models unix_visited_vertices. */
  visited: UnixVertex[];
  /** Models unix_vertex_unvisited_index. */
  unvisitedIndex: number;
  /** Models unix_vertex_grouped_index. */
  groupedIndex: number;
  /** Models unix_vertex_max_scc_index. */
  maxSccIndex: number;
  /** Models unix_graph_cyclic_sccs. */
  cyclicSccs: number;
  /** Models gc_in_progress. */
  inProgress: boolean;
  /** Models unix_peek_seq's sequence (even: no writer). */
  peekSeq: number;
  /** Models unix_gc_work. */
  readonly work: WorkStruct;
  /** Dead SCCs collected so far (inspection). */
  collected: number;
}

const gcState = new SimLocal<UnixGc>(() => ({
  lock: new SpinLock("unix_gc_lock"),
  peekLock: new SpinLock("unix_peek_lock"),
  totInflight: 0,
  userInflight: 0,
  graphState: UNIX_GRAPH_NOT_CYCLIC,
  unvisited: [],
  visited: [],
  unvisitedIndex: UNIX_VERTEX_INDEX_MARK1,
  groupedIndex: UNIX_VERTEX_INDEX_MARK2,
  maxSccIndex: UNIX_VERTEX_INDEX_START,
  cyclicSccs: 0,
  inProgress: false,
  peekSeq: 0,
  work: new WorkStruct(() => unixGcWork(), "unix_gc_work"),
  collected: 0,
}));

/** What the collector's state is (inspection for tests, no scheduling point). */
export function unixGcStats(): {
  totInflight: number;
  graphState: number;
  vertices: number;
  inProgress: boolean;
  collected: number;
} {
  const g = gcState.get();
  return {
    totInflight: g.totInflight,
    graphState: g.graphState,
    vertices: g.unvisited.length + g.visited.length,
    inProgress: g.inProgress,
    collected: g.collected,
  };
}

/** The socket a file is, set by af-unix.ts (a registry instead of an import cycle). */
const socketOfFile = new WeakMap<object, UnixSock>();

/** Marks `file` as the file of unix socket `u` (sock_alloc_file() of a unix socket). */
export function unixSetSocketFile(file: File, u: UnixSock): void {
  socketOfFile.set(file, u);
}

/**
 * Models unix_get_socket(): the unix socket a file is, or null (not a socket, or not PF_UNIX).
 * Locking: none. References: none taken.
 */
export function unixGetSocket(file: File): UnixSock | null {
  return socketOfFile.get(file) ?? null;
}

/**
 * Models unix_edge_successor(): the successor's vertex, or for an embryo its listener's ("If an
 * embryo socket has a fd, the listener indirectly holds the fd's refcnt."). Toggle
 * `unix.gc-embryo-successor-not-listener` (hypothetical): the embryo's own vertex.
 */
function unixEdgeSuccessor(edge: UnixEdge): UnixVertex | null {
  const listener = edge.successor.listener;
  if (listener !== null && !toggleEnabled(UNIX_GC_EMBRYO_SUCCESSOR_NOT_LISTENER.name))
    return listener.vertex as UnixVertex | null;
  return edge.successor.vertex as UnixVertex | null;
}

/** Models unix_update_graph(): a new edge into an in-flight socket may close a cycle. */
function unixUpdateGraph(g: UnixGc, vertex: UnixVertex | null): void {
  if (vertex === null) return;
  g.graphState = UNIX_GRAPH_MAYBE_CYCLIC;
}

/** Removes `x` from `list` (list_del()), if it is there. */
function listDel<T>(list: T[], x: T): void {
  const i = list.indexOf(x);
  if (i >= 0) list.splice(i, 1);
}

/**
 * Models unix_add_edge(): gives the predecessor a vertex (one of the fpl's) if it has none yet,
 * and adds the edge to it.
 * Locking: unix_gc_lock held.
 */
function unixAddEdge(g: UnixGc, fpl: ScmFpList, edge: UnixEdge): void {
  lockdepAssertHeld(g.lock);
  let vertex = edge.predecessor.vertex as UnixVertex | null;
  if (vertex === null) {
    vertex = fpl.vertices[0] as UnixVertex;
    vertex.index = g.unvisitedIndex;
    vertex.sccIndex = ++g.maxSccIndex;
    vertex.outDegree = 0;
    vertex.edges.length = 0;
    vertex.scc = [vertex];
    fpl.vertices.shift();
    g.unvisited.push(vertex);
    edge.predecessor.vertex = vertex;
  }
  vertex.outDegree++;
  vertex.edges.push(edge);
  unixUpdateGraph(g, unixEdgeSuccessor(edge));
}

/**
 * Models unix_del_edge(): removes the edge; a vertex left without edges goes back to the fpl
 * (freed with it). An edge deleted twice (two unix_del_edges() of one fpl: a reader's
 * scm_stat_del() and the collector's purge, while a collection runs outside the peek seqcount)
 * is CONFIG_DEBUG_LIST's "list_del corruption" (a `warn`; the entry is left alone), then, if its
 * socket is no longer in flight, the NULL `vertex->out_degree--`: an oops. `name` names the edge.
 * Locking: unix_gc_lock held.
 */
function unixDelEdge(g: UnixGc, fpl: ScmFpList, edge: UnixEdge, name: string): void {
  lockdepAssertHeld(g.lock);
  const vertex = edge.predecessor.vertex as UnixVertex | null;
  if (!fpl.dead) unixUpdateGraph(g, unixEdgeSuccessor(edge));
  // list_del(&edge->vertex_entry) with CONFIG_DEBUG_LIST: an edge deleted before (its entry is
  // LIST_POISON1) is reported and left alone (__list_del_entry_valid_or_report()).
  if (vertex === null || !vertex.edges.includes(edge)) {
    report("warn", `list_del corruption, ${name}->next is LIST_POISON1 (dead000000000100)`, {
      object: name,
    });
  } else {
    listDel(vertex.edges, edge);
  }
  if (vertex === null)
    bug(
      `BUG: kernel NULL pointer dereference in unix_del_edge(): ${name}->predecessor->vertex is NULL`,
    );
  vertex.outDegree--;
  if (vertex.outDegree === 0) {
    edge.predecessor.vertex = null;
    listDel(g.unvisited, vertex);
    listDel(g.visited, vertex);
    fpl.vertices.push(vertex);
  }
}

/** Models unix_free_vertices(): frees the vertices the fpl still owns. */
function unixFreeVertices(fpl: ScmFpList): void {
  for (const v of fpl.vertices.splice(0)) kfree(v as UnixVertex);
}

/**
 * Models unix_add_edges(): puts the fpl's unix sockets in flight towards `receiver` (an edge
 * each), counts them in unix_tot_inflight and the receiver's nr_unix_fds, and the user's
 * in-flight files; then frees the vertices it did not need.
 *
 * Locking: takes unix_gc_lock; called under the receiver's unix_state_lock().
 * References: none (the skb holds the files).
 */
export async function unixAddEdges(fpl: ScmFpList, receiver: UnixSock): Promise<void> {
  const g = gcState.get();
  const lockTaken = g.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  if (fpl.countUnix > 0) {
    const edges = (fpl.edges as UnixEdges | null)?.edges ?? [];
    let i = 0;
    let j = 0;
    do {
      const inflight = unixGetSocket(fpl.fp[j++]!);
      if (inflight === null) continue;
      const edge: UnixEdge = { predecessor: inflight, successor: receiver };
      edges[i++] = edge;
      unixAddEdge(g, fpl, edge);
    } while (i < fpl.countUnix);
    receiver.nrUnixFds += fpl.countUnix;
    g.totInflight += fpl.countUnix;
  }
  g.userInflight += fpl.fp.length;
  g.lock.unlockNow();
  fpl.inflight = true;
  unixFreeVertices(fpl);
}

/**
 * Models unix_del_edges(): takes the fpl's edges out of the graph (a live receiver's
 * nr_unix_fds with them, not a dead fpl's: the collector is purging it) and its files out of
 * the in-flight counts.
 *
 * A reader's scm_stat_del() that loaded UNIXCB(skb).fp before the collector purged the skb
 * reaches here after unix_destroy_fpl() kvfree()d `fpl->edges` (and maybe after
 * __scm_destroy() freed the fpl): KASAN reports the read of the freed scm_fp_list and of the
 * freed edge array (slab-use-after-free: kvmalloc_array() of a few edges is a kmalloc()). What
 * the kernel does next with the stale array (list_del() of entries the collector already
 * deleted) is not modelled: the model skips the freed array's edges and tot_inflight, and the
 * syscall goes on (the user's in-flight count is dropped at `out:` as the kernel does).
 *
 * Locking: takes unix_gc_lock.
 * References: none.
 */
export async function unixDelEdges(fpl: ScmFpList): Promise<void> {
  const g = gcState.get();
  const lockTaken2 = g.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  fpl.checkAccess("unix_del_edges");
  const array = fpl.edges as UnixEdges | null;
  // fpl->edges after unix_destroy_fpl()'s kvfree(): KASAN reports the read of the freed array
  // and the walk is not modelled past it (see the doc comment).
  if (fpl.countUnix > 0 && array !== null && array.checkAccess("unix_del_edges")) {
    const edges = array.edges;
    let i = 0;
    do {
      unixDelEdge(g, fpl, edges[i]!, `${array.name}[${i}]`);
      i++;
    } while (i < fpl.countUnix);
    if (!fpl.dead) edges[0]!.successor.nrUnixFds -= fpl.countUnix;
    g.totInflight -= fpl.countUnix;
  }
  g.userInflight -= fpl.fp.length;
  g.lock.unlockNow();
  fpl.inflight = false;
}

/**
 * Models unix_update_edges(): an embryo socket accepted (unix_accept()): its listener no longer
 * stands for it. Without unix socket fds in flight to it the graph has no edge into it and the
 * listener is cleared without unix_gc_lock; else, under it, the graph is told that the edges
 * into the embryo moved (unix_update_graph() of the listener's vertex) and the listener cleared.
 *
 * Locking: `u`'s unix_state_lock() held (nr_unix_fds changes only under it); takes unix_gc_lock
 * when fds are in flight to it.
 */
export async function unixUpdateEdges(u: UnixSock): Promise<void> {
  lockdepAssertHeld(u.lock);
  if (u.nrUnixFds === 0) {
    u.listener = null;
    return;
  }
  const g = gcState.get();
  const lockTaken3 = g.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  const listener = u.listener as UnixSock;
  unixUpdateGraph(g, listener.vertex as UnixVertex | null);
  u.listener = null;
  g.lock.unlockNow();
}

/**
 * Models unix_prepare_fpl(): a vertex per unix socket of the fpl and the edge array, allocated
 * before the skb is queued (GFP_KERNEL). 0 or -ENOMEM (what was allocated is freed).
 * Locking: none; may sleep. References: none.
 */
export async function unixPrepareFpl(fpl: ScmFpList): Promise<number> {
  if (fpl.countUnix === 0) return 0;
  await point("unix_prepare_fpl");
  for (let i = 0; i < fpl.countUnix; i++) {
    const vertex = kmalloc(unixVertexCache, () => new UnixVertex());
    if (isErr(vertex)) {
      unixFreeVertices(fpl);
      return -ENOMEM;
    }
    fpl.vertices.unshift(vertex);
  }
  const edges = kmalloc(unixEdgesCache, () => new UnixEdges());
  if (isErr(edges)) {
    unixFreeVertices(fpl);
    return -ENOMEM;
  }
  fpl.edges = edges;
  return 0;
}

/**
 * Models unix_destroy_fpl(): an fpl leaving its skb: out of the graph if it was in flight, then
 * its edge array and remaining vertices freed.
 * Locking: none held; takes unix_gc_lock through unixDelEdges(). References: none.
 */
export async function unixDestroyFpl(fpl: ScmFpList): Promise<void> {
  if (fpl.inflight) await unixDelEdges(fpl);
  // kvfree(fpl->edges): the pointer stays, dangling, as the kernel leaves it.
  if (fpl.edges !== null) kfree(fpl.edges);
  unixFreeVertices(fpl);
}

/**
 * Models unix_peek_fpl(): a MSG_PEEK took references to the files of `fpl` (scm_fp_dup()); if
 * the collector is running, invalidate its current SCC check (raw_write_seqcount_barrier() on
 * unix_peek_seq under unix_peek_lock). With `unix.gc-peek-no-seqcount` on, nothing: the kernels
 * before the fix had no such function.
 *
 * Locking: takes unix_peek_lock. References: none.
 */
export async function unixPeekFpl(fpl: ScmFpList | null): Promise<void> {
  if (toggleEnabled(UNIX_GC_PEEK_NO_SEQCOUNT.name)) return;
  if (fpl === null || fpl.countUnix === 0) return;
  const g = gcState.get();
  await point("READ_ONCE(gc_in_progress)");
  if (!g.inProgress) return;
  const peekLockTaken = g.peekLock.lock();
  if (peekLockTaken !== RESOLVED) await peekLockTaken;
  await point("raw_write_seqcount_barrier(unix_peek_seq)");
  g.peekSeq += 2;
  g.peekLock.unlockNow();
}

/**
 * The window v6.18.35 still has: __unix_walk_scc() propagates the smaller scc_index only along
 * the edges it walks (Tarjan's lowlink), so the members of one SCC can end the walk with
 * different scc_index values: with edges 15->17, 17->18, 18->17, 17->15 walked from 15, 18
 * keeps 3 while 15 and 17 end with 2. unix_vertex_dead() takes a member's edge to a member with
 * another scc_index for an edge "received by an inflight socket in another SCC": the SCC is
 * never judged dead, and its sockets and the files in flight in them leak. The fix switch gives
 * every member the root's scc_index when the SCC is finalised (proposed here).
 */
export const UNIX_GC_SCC_INDEX_NOT_UNIFORM = defineKnownWindow({
  name: "unix.gc-scc-index-not-uniform",
  what:
    "a dead SCC whose members ended the Tarjan walk with different scc_index values (the smaller " +
    "index propagates only along the edges walked) is never judged dead: unix_vertex_dead() sees " +
    "an edge between two of its members as an edge to another SCC, so the collector leaves the " +
    "cycle in flight and kmemleak reports its sockets, skbs, scm_fp_lists, vertices and edges, " +
    "and the files they carry",
  where:
    "net/unix/garbage.c: __unix_walk_scc() (vertex->scc_index = min(vertex->scc_index, " +
    "next_vertex->scc_index) on the back edge and on backtracking; the SCC finalised when " +
    "vertex->index == vertex->scc_index, its members' scc_index left as they are) against " +
    "unix_vertex_dead() (next_vertex->scc_index != vertex->scc_index: not dead); " +
    "unix_walk_scc_fast() reuses the stored scc_index",
  since: "af_unix: Detect dead SCC.",
  sinceCommit: "a15702d8b3aad8ce5268c565bd29f0e02fd2db83",
  kernels:
    "the v6.10 collector (af_unix: Replace garbage collection algorithm.) and its stable " +
    "backports; v6.18.35 has it (garbage.c read); no upstream report or fix found",
  proposedFix:
    "when __unix_walk_scc() finalises an SCC, give every vertex of it the root's scc_index " +
    "(list_for_each_entry(v, &scc, scc_entry) v->scc_index = vertex->scc_index;) before " +
    "unix_scc_dead(), so that equal scc_index means the same SCC in unix_vertex_dead() and in " +
    "the fast walk (proposed here)",
  foundBy:
    "packages/kernel src/net/garbage.test.ts (sccIndexNotUniform: three sockets, edges " +
    "15->17, 17->18, 18->17, 17->15, every fd closed; kmemleak at quiesce); the fuzzer's " +
    "sockets option (fuzzunix: 2 of 1,500 schedules at 30 ops)",
});

/**
 * Models unix_vertex_dead(): every edge of the vertex stays inside its SCC, and the socket's file
 * count equals its out-degree (no fd holds it: "If not close()d, total_ref > out_degree"). The
 * file count is read without any lock the peeker or close() takes: a scheduling point.
 * Locking: unix_gc_lock held.
 */
async function unixVertexDead(g: UnixGc, vertex: UnixVertex): Promise<boolean> {
  lockdepAssertHeld(g.lock);
  for (const edge of vertex.edges) {
    const next = unixEdgeSuccessor(edge);
    if (next === null) return false;
    if (next.sccIndex !== vertex.sccIndex) return false;
  }
  const u = vertex.edges[0]!.predecessor;
  const file = u.file as File;
  await point(opLabel("file_count", file.name));
  const totalRef = fileCount(file);
  if (totalRef !== vertex.outDegree) return false;
  return true;
}

/**
 * Models unix_scc_dead(): marks the SCC's vertices visited (and grouped, for the full walk) and
 * checks each with unix_vertex_dead(); "If MSG_PEEK intervened, defer this SCC to the next
 * round": a peek during the check (unix_peek_seq moved) makes it not dead. Toggle
 * `unix.gc-peek-no-seqcount` (historic, before e5b31d988a41): no seqcount, the check stands.
 * `scc` is in the kernel's list_for_each_entry_reverse() order.
 * Locking: unix_gc_lock held.
 */
async function unixSccDead(g: UnixGc, scc: readonly UnixVertex[], fast: boolean): Promise<boolean> {
  lockdepAssertHeld(g.lock);
  const noSeq = toggleEnabled(UNIX_GC_PEEK_NO_SEQCOUNT.name);
  let seq = 0;
  if (!noSeq) {
    await point("read_seqcount_begin(unix_peek_seq)");
    seq = g.peekSeq;
  }
  let sccDead = true;
  for (const vertex of scc) {
    listDel(g.unvisited, vertex);
    listDel(g.visited, vertex);
    g.visited.push(vertex);
    if (!fast) vertex.index = g.groupedIndex;
    if (sccDead) sccDead = await unixVertexDead(g, vertex);
  }
  if (!noSeq) {
    await point("read_seqcount_retry(unix_peek_seq)");
    if (g.peekSeq !== seq) return false;
  }
  return sccDead;
}

/**
 * The window v6.18.35 has between unix_stream_sendmsg() and the collector: scm_stat_add() puts
 * the fpl's edges in the graph (unix_add_edges(), under unix_gc_lock) before __skb_queue_tail()
 * queues the skb, both under the receiver's unix_state_lock(), which the collector does not take.
 * A thread closing the last fd of the socket being sent and a collection between the two make
 * its SCC dead with the skb not yet on any queue: unix_collect_skb() collects nothing of it, the
 * SCC is not counted as cyclic, and later collections skip the graph. 7c349ed09031 removed the
 * duplicate file references (scm_fp_dup()) that used to keep such a socket's file count above
 * its in-flight count until the skb was queued.
 */
export const UNIX_GC_EDGE_BEFORE_QUEUE = defineKnownWindow({
  name: "unix.gc-edge-before-queue",
  what:
    "a cycle whose last fd is closed while a sendmsg() of it has added its edge but not yet queued its " +
    "skb is judged dead and collected with the skb missing: the graph is marked not cyclic and no later " +
    "collection looks again; kmemleak reports the sockets, the skb, its scm_fp_list and the vertex",
  where:
    "net/unix/af_unix.c: unix_stream_sendmsg() (scm_stat_add() -> unix_add_edges(), then " +
    "__skb_queue_tail(), under unix_state_lock(other)) against net/unix/garbage.c: unix_vertex_dead() " +
    "(file count == out-degree), unix_collect_skb() and __unix_walk_scc()'s cyclic count",
  since: "af_unix: Remove scm_fp_dup() in unix_attach_fds().",
  sinceCommit: "7c349ed090318b1c88a3e5dff3b24f732296edce",
  kernels:
    "v6.10 onwards (the series after the new collector; its stable backports); v6.18.35 has it " +
    "(af_unix.c and garbage.c read); no upstream report or fix found",
  proposedFix:
    "unix_collect_skb() counts, in the skbs it takes off the SCC's queues (and its listeners' " +
    "embryos'), the edges whose predecessor is in the SCC; fewer than the SCC's out-degrees mean " +
    "an skb is still on its way to a queue: the skbs go back to their queues and the SCC counts as " +
    "cyclic, for the next collection (proposed here); it also defers the SCC of known window " +
    "unix.gc-embryo-queued-late",
  foundBy:
    "packages/kernel src/net/garbage.test.ts (sendVsGc: a thread sending a socket's fd over its " +
    "own pair while another closes it and runs the collector; PCT, POS)",
});

/** The edges of `skbs`' fpls whose predecessor is a vertex of `members`. */
function edgesFrom(skbs: readonly SkBuff[], members: ReadonlySet<UnixVertex>): number {
  let n = 0;
  for (const skb of skbs) {
    const fpl = skb.fp;
    const array = fpl?.edges as UnixEdges | null | undefined;
    if (fpl === null || array === null || array === undefined) continue;
    for (let i = 0; i < fpl.countUnix; i++) {
      const v = array.edges[i]?.predecessor.vertex as UnixVertex | null | undefined;
      if (v && members.has(v)) n++;
    }
  }
  return n;
}

/**
 * Models unix_collect_skb(): splices the receive queue of every socket of a dead SCC into the
 * hitlist; for a listener, the receive queues of the embryos its queue holds (skb->sk), each
 * under its own queue lock inside the listener's (a lockdep subclass here: the kernel's
 * unix_recvq_lock_cmp_fn()). The listener's own skbs stay: its release frees them. Returns true.
 * With the fix switch of known window `unix.gc-edge-before-queue`, the skbs taken are checked
 * to carry every edge of the SCC; if not, they go back to the head of their queues and it
 * returns false (the SCC is deferred).
 * Locking: unix_gc_lock held; takes each socket's sk_receive_queue.lock.
 */
async function unixCollectSkb(
  g: UnixGc,
  scc: readonly UnixVertex[],
  hitlist: SkBuff[],
): Promise<boolean> {
  lockdepAssertHeld(g.lock);
  const check = toggleEnabled(UNIX_GC_EDGE_BEFORE_QUEUE.name);
  // Without the check the queues go straight to the hitlist, as v6.18.35's code does.
  const taken: { owner: UnixSock; skbs: SkBuff[] }[] = [];
  const take = (owner: UnixSock): void => {
    if (!check) {
      skbQueueSpliceInit(owner.receiveQueue, hitlist);
      return;
    }
    const skbs: SkBuff[] = [];
    skbQueueSpliceInit(owner.receiveQueue, skbs);
    taken.push({ owner, skbs });
  };
  for (const vertex of scc) {
    const u = vertex.edges[0]!.predecessor;
    const queueLockTaken = u.queueLock.lock();
    if (queueLockTaken !== RESOLVED) await queueLockTaken;
    if (u.state === TCP_LISTEN) {
      for (const skb of u.receiveQueue) {
        const embryo = skb.sk as UnixSock;
        const lockNestedDone = embryo.queueLock.lockNested(1);
        if (lockNestedDone !== RESOLVED) await lockNestedDone;
        await point(opLabel("skb_queue_splice_init", embryo.name));
        take(embryo);
        embryo.queueLock.unlockNow();
      }
    } else {
      await point(opLabel("skb_queue_splice_init", u.name));
      take(u);
    }
    u.queueLock.unlockNow();
  }
  if (check) {
    const members = new Set(scc);
    const expected = scc.reduce((n, v) => n + v.outDegree, 0);
    const found = edgesFrom(
      taken.flatMap((t) => t.skbs),
      members,
    );
    if (found !== expected) {
      // An skb of the SCC is not queued yet: put back what was taken, at the queues' heads.
      for (const t of taken) {
        const queueLockTaken2 = t.owner.queueLock.lock();
        if (queueLockTaken2 !== RESOLVED) await queueLockTaken2;
        await point(opLabel("skb_queue_splice", t.owner.name));
        const rest = t.owner.receiveQueue.splice(0);
        for (const skb of [...t.skbs, ...rest]) skbQueueTail(t.owner.receiveQueue, skb);
        t.owner.queueLock.unlockNow();
      }
      return false;
    }
    for (const t of taken) for (const skb of t.skbs.splice(0)) skbQueueTail(hitlist, skb);
  }
  g.collected++;
  return true;
}

/**
 * Models unix_scc_cyclic(): more than one vertex, or a vertex with an edge to itself.
 * Locking: unix_gc_lock held.
 */
function unixSccCyclic(g: UnixGc, scc: readonly UnixVertex[]): boolean {
  lockdepAssertHeld(g.lock);
  if (scc.length !== 1) return true;
  const vertex = scc[0]!;
  return vertex.edges.some((edge) => unixEdgeSuccessor(edge) === vertex);
}

/**
 * Models __unix_walk_scc(): Tarjan's algorithm from `start`, iterative as the kernel's (a vertex
 * stack, an edge stack for the backtracking); each SCC found is collected if dead, else counted
 * if cyclic. Returns the cyclic SCCs found. A finalised SCC's members keep the scc_index the walk
 * left them (not all the root's: known window `unix.gc-scc-index-not-uniform`, whose fix switch
 * sets the root's on every member before unix_scc_dead()).
 * Locking: unix_gc_lock held.
 */
async function unixWalkSccFrom(
  g: UnixGc,
  start: UnixVertex,
  lastIndex: { value: number },
  hitlist: SkBuff[],
): Promise<number> {
  lockdepAssertHeld(g.lock);
  let cyclicSccs = 0;
  const vertexStack: UnixVertex[] = [];
  const edgeStack: UnixEdge[] = [];
  let vertex = start;
  let from = 0;
  let push = true;
  for (;;) {
    if (push) {
      // next_vertex: push to vertex_stack, mark on-stack.
      vertexStack.push(vertex);
      vertex.index = lastIndex.value;
      vertex.sccIndex = lastIndex.value;
      lastIndex.value++;
      from = 0;
      push = false;
    }
    let descended = false;
    for (let i = from; i < vertex.edges.length; i++) {
      const edge = vertex.edges[i]!;
      const next = unixEdgeSuccessor(edge);
      if (next === null) continue;
      if (next.index === g.unvisitedIndex) {
        edgeStack.push(edge);
        vertex = next;
        descended = true;
        break;
      }
      if (next.index !== g.groupedIndex) vertex.sccIndex = Math.min(vertex.sccIndex, next.sccIndex);
    }
    if (descended) {
      push = true;
      continue;
    }
    if (vertex.index === vertex.sccIndex) {
      // SCC finalised: the vertices pushed since `vertex`, `vertex` first (the kernel's
      // list_for_each_entry_reverse() order of the cut list).
      const scc = vertexStack.splice(vertexStack.lastIndexOf(vertex));
      for (const v of scc) v.scc = scc;
      // v6.18.35 leaves each member's scc_index as the walk left it (known window
      // `unix.gc-scc-index-not-uniform`); the fix switch gives them the root's.
      if (toggleEnabled(UNIX_GC_SCC_INDEX_NOT_UNIFORM.name))
        for (const v of scc) v.sccIndex = vertex.sccIndex;
      if ((await unixSccDead(g, scc, false)) && (await unixCollectSkb(g, scc, hitlist))) {
        // collected
      } else {
        if (g.maxSccIndex < vertex.sccIndex) g.maxSccIndex = vertex.sccIndex;
        if (unixSccCyclic(g, scc)) cyclicSccs++;
      }
    }
    const edge = edgeStack.pop();
    if (edge === undefined) return cyclicSccs;
    // prev_vertex: back to the predecessor, propagate the smaller scc_index.
    const next = vertex;
    vertex = edge.predecessor.vertex as UnixVertex;
    vertex.sccIndex = Math.min(vertex.sccIndex, next.sccIndex);
    from = vertex.edges.indexOf(edge) + 1;
  }
}

/**
 * Models unix_walk_scc(): the full walk over every in-flight vertex.
 * Locking: unix_gc_lock held.
 */
async function unixWalkScc(g: UnixGc, hitlist: SkBuff[]): Promise<void> {
  lockdepAssertHeld(g.lock);
  const lastIndex = { value: UNIX_VERTEX_INDEX_START };
  let cyclicSccs = 0;
  g.maxSccIndex = UNIX_VERTEX_INDEX_START;
  while (g.unvisited.length > 0) {
    cyclicSccs += await unixWalkSccFrom(g, g.unvisited[0]!, lastIndex, hitlist);
  }
  g.unvisited = g.visited;
  g.visited = [];
  const t = g.unvisitedIndex;
  g.unvisitedIndex = g.groupedIndex;
  g.groupedIndex = t;
  g.cyclicSccs = cyclicSccs;
  g.graphState = cyclicSccs ? UNIX_GRAPH_CYCLIC : UNIX_GRAPH_NOT_CYCLIC;
}

/**
 * Models unix_walk_scc_fast(): the graph has not changed since the last full walk but for
 * deleted edges: re-check the SCCs that walk grouped.
 * Locking: unix_gc_lock held.
 */
async function unixWalkSccFast(g: UnixGc, hitlist: SkBuff[]): Promise<void> {
  lockdepAssertHeld(g.lock);
  let cyclicSccs = g.cyclicSccs;
  while (g.unvisited.length > 0) {
    const vertex = g.unvisited[0]!;
    // list_add(&scc, &vertex->scc_entry), walked in reverse: `vertex`, then the ring backwards.
    const ring = vertex.scc.includes(vertex) ? vertex.scc : [vertex];
    const at = ring.indexOf(vertex);
    const scc = [...ring.slice(0, at + 1).reverse(), ...ring.slice(at + 1).reverse()];
    if ((await unixSccDead(g, scc, true)) && (await unixCollectSkb(g, scc, hitlist))) {
      cyclicSccs--;
    }
  }
  g.unvisited = g.visited;
  g.visited = [];
  g.cyclicSccs = cyclicSccs;
  g.graphState = cyclicSccs ? UNIX_GRAPH_CYCLIC : UNIX_GRAPH_NOT_CYCLIC;
}

/**
 * Frees a socket buffer: kfree_skb() (af-unix.ts registers it, so that the collector's purge
 * runs the skb's destructor).
 */
let kfreeSkbImpl: ((skb: SkBuff) => Promise<void>) | null = null;

/** Registers kfree_skb() for the purge (af-unix.ts, at load). */
export function unixGcSetKfreeSkb(fn: (skb: SkBuff) => Promise<void>): void {
  kfreeSkbImpl = fn;
}

/**
 * Models __unix_gc(), the work item: under unix_gc_lock, the fast or full walk collects the
 * dead SCCs' skbs into the hitlist; then, unlocked, marks their fpls dead and purges the hitlist
 * (kfree_skb(): unix_destruct_scm() drops the in-flight file references); gc_in_progress false.
 * v6.18.35 does not set gc_in_progress here: a run re-queued by a unix_gc() during the previous
 * one walks with it false (known window `unix.gc-requeued-not-in-progress`; its fix switch sets it
 * first, as d82ba05263c6's stable backports do).
 *
 * Locking: takes unix_gc_lock (and the queue locks inside it); the purge runs unlocked.
 * References: drops the references of every skb collected.
 */
async function unixGcWork(): Promise<void> {
  const g = gcState.get();
  if (toggleEnabled(UNIX_GC_REQUEUED_NOT_IN_PROGRESS.name)) {
    // The fix (d82ba05263c6's stable backports): a re-queued run is in progress too.
    await point("WRITE_ONCE(gc_in_progress, true)");
    g.inProgress = true;
  }
  const lockTaken4 = g.lock.lock();
  if (lockTaken4 !== RESOLVED) await lockTaken4;
  if (g.graphState === UNIX_GRAPH_NOT_CYCLIC) {
    g.lock.unlockNow();
  } else {
    const hitlist: SkBuff[] = [];
    if (g.graphState === UNIX_GRAPH_CYCLIC) await unixWalkSccFast(g, hitlist);
    else await unixWalkScc(g, hitlist);
    g.lock.unlockNow();
    // skb_queue_walk(&hitlist, skb): the list as it is at each step (nobody else should touch it).
    for (let i = 0; i < hitlist.length; i++) {
      const skb = hitlist[i]!;
      await point(opLabel("UNIXCB(skb).fp->dead", skb.name));
      skb.checkAccess("__unix_gc");
      if (skb.fp !== null) skb.fp.dead = true;
    }
    // __skb_queue_purge_reason(&hitlist, SKB_DROP_REASON_SOCKET_CLOSE): __skb_dequeue() and
    // kfree_skb_reason() until the list is empty.
    for (;;) {
      await point("__skb_dequeue(hitlist)");
      const skb = skbDequeue(hitlist);
      if (skb === undefined) break;
      await (kfreeSkbImpl as (skb: SkBuff) => Promise<void>)(skb);
    }
  }
  await point("WRITE_ONCE(gc_in_progress, false)");
  g.inProgress = false;
}

/**
 * Models unix_gc(): gc_in_progress, then the work item queued on the unbound system workqueue.
 * Locking: none. References: none.
 */
export async function unixGc(): Promise<void> {
  const g = gcState.get();
  await point("WRITE_ONCE(gc_in_progress, true)");
  g.inProgress = true;
  await queueWork(systemUnboundWq(), g.work);
}

/**
 * Models wait_for_unix_gc(): a sender with too much in flight forces a collection (more than
 * UNIX_INFLIGHT_TRIGGER_GC sockets in flight), and a user with UNIX_INFLIGHT_SANE_USER files in
 * flight that sends a socket waits for a running one (flush_work()).
 * Locking: none held; may sleep. References: none.
 */
export async function waitForUnixGc(fpl: ScmFpList | null): Promise<void> {
  const g = gcState.get();
  await point("READ_ONCE(unix_tot_inflight)");
  if (g.totInflight > UNIX_INFLIGHT_TRIGGER_GC && !g.inProgress) await unixGc();
  if (fpl === null || fpl.countUnix === 0 || g.userInflight < UNIX_INFLIGHT_SANE_USER) return;
  if (g.inProgress) await flushWork(g.work);
}

/** Models READ_ONCE(current_user()->unix_inflight) (too_many_unix_fds()). */
export function unixUserInflight(): number {
  return gcState.get().userInflight;
}

/** Models READ_ONCE(unix_tot_inflight) (unix_release_sock()'s trigger). */
export async function unixTotInflight(): Promise<number> {
  await point("READ_ONCE(unix_tot_inflight)");
  return gcState.get().totInflight;
}
