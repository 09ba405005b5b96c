/**
 * struct unix_sock and the parts of struct sock that AF_UNIX uses (include/net/af_unix.h,
 * include/net/sock.h, Linux v6.18), and struct sk_buff as a unix socket's queue holds it
 * (include/linux/skbuff.h, UNIXCB() of net/unix/af_unix.h).
 *
 * Faithfulness: a stream socket only (socket()/socketpair() of AF_UNIX, SOCK_STREAM); an skb
 * carries its data bytes (skb->len, UNIXCB(skb).consumed: the bytes a reader has taken) and its
 * SCM_RIGHTS list, or, on a listener's queue, the embryo socket connect() created (skb->sk); the
 * OOB skb of MSG_OOB (u->oob_skb: a second pointer to an skb on the receive queue, with no
 * reference of its own, as in v6.12.19 and v6.18.35); abstract addresses only (struct unix_address without a
 * path); no credentials or peer credentials; sk_wmem_alloc
 * counts only the connect() skb's charge on its embryo (sock_wmalloc()), so that the embryo
 * outlives its sk_refcnt while that skb is queued, as the kernel's sk_free() defers __sk_free().
 */

import { Kref } from "@primetime/atomics";
import { WaitQueue } from "@primetime/sim";
import type { File } from "../../fs/file.js";
import { Mutex } from "../../locking/mutex.js";
import { SpinLock } from "../../locking/spinlock.js";
import { KmemCache, SlabObject } from "../../mm/slab.js";
import type { ScmFpList } from "../../net/scm.js";

/** Models RCV_SHUTDOWN (include/net/sock.h). */
export const RCV_SHUTDOWN = 1;
/** Models SEND_SHUTDOWN. */
export const SEND_SHUTDOWN = 2;
/** Models SHUTDOWN_MASK. */
export const SHUTDOWN_MASK = 3;
/** Models TCP_ESTABLISHED (include/net/tcp_states.h): a connected unix socket. */
export const TCP_ESTABLISHED = 1;
/** Models TCP_CLOSE. */
export const TCP_CLOSE = 7;
/** Models TCP_LISTEN: a socket listen() made a listener. */
export const TCP_LISTEN = 10;

/** The slab cache of unix sockets (the "UNIX" cache of unix_proto). */
export const unixSockCache = new KmemCache("UNIX");
/** The slab cache of socket buffers (skbuff_head_cache). */
export const skbuffHeadCache = new KmemCache("skbuff_head_cache");
/** The kmalloc cache of socket addresses (unix_create_addr()'s kmalloc()). */
export const unixAddressCache = new KmemCache("unix_address");

/**
 * Models struct unix_address: a bound name (abstract here: sun_path starts with a NUL byte),
 * shared by a listener and the sockets accept() gives (refcount_inc() in unix_stream_connect()).
 *
 * Locking: immutable once published. References: `refcnt`, one per socket whose u->addr it is.
 */
export class UnixAddress extends SlabObject {
  /** Models addr->refcnt. */
  readonly refcnt = new Kref(this);
  /** Models addr->len: sizeof(sun_family) + the bytes of sun_path used. */
  len = 0;
  /** Models addr->name->sun_path[0..len-2] as a string of byte values (leading NUL included). */
  path = "";
}

/**
 * Models the vertex of a socket in flight (struct unix_vertex, net/unix/garbage.c); garbage.ts
 * owns it. Declared here so that struct unix_sock can point at one.
 */
export interface UnixVertexRef {
  readonly name: string;
}

/**
 * Models struct unix_sock (with its struct sock and struct socket).
 *
 * Locking: `lock` (unix_state_lock()) protects `peer`, `state`, `shutdown`, `dead`,
 * `maxAckBacklog`, `listener`, and `err` (written under it by the peer's release; sock_error() also
 * reads it without it, as the kernel's data_race() read and xchg() do); `queueLock`
 * (sk_receive_queue.lock) protects `receiveQueue`; `iolock` serialises readers; `bindlock`
 * serialises bind(); `addr` is set once under `bindlock` and the net's table lock; `vertex` and
 * `nrUnixFds` are the garbage collector's, under unix_gc_lock (nrUnixFds also under
 * unix_state_lock()).
 * References: `refcnt` (sk_refcnt) counts the socket file's (sock_init_data(); an embryo's is
 * the accept()ed file's to be), the peer's (sock_hold() in unix_socketpair() and
 * unix_stream_connect()) and transient lookups' (unix_find_abstract()); `wmemAlloc`
 * (sk_wmem_alloc) is 1 while sk_refcnt is held plus one per sock_wmalloc()ed skb; each queued
 * skb holds its files (its ScmFpList), a connect() skb its embryo's sk_wmem_alloc.
 */
export class UnixSock extends SlabObject {
  /** Models sk_refcnt. */
  readonly refcnt = new Kref(this);
  /** Models sk_wmem_alloc: __sk_free() once it drops to 0 (see the file comment). */
  readonly wmemAlloc = new Kref(this);
  /** Models sk_receive_queue. */
  readonly receiveQueue: SkBuff[] = [];
  /** Models sk_receive_queue.lock (class af_unix_sk_receive_queue_lock_key). */
  readonly queueLock: SpinLock;
  /** Models u->lock (unix_state_lock()). */
  readonly lock: SpinLock;
  /** Models u->iolock. */
  readonly iolock: Mutex;
  /** Models sk_wq: readers sleep here (sk_data_ready() wakes them). */
  readonly wait: WaitQueue;
  /** Models u->peer_wait: connect() sleeps here while this listener's backlog is full. */
  readonly peerWait: WaitQueue;
  /** Models u->bindlock. */
  readonly bindlock: Mutex;
  /** Models u->addr: the bound name, or null. */
  addr: UnixAddress | null = null;
  /** Models sk_max_ack_backlog (sysctl_max_dgram_qlen until listen()). */
  maxAckBacklog = 10;
  /** Models unix_peer(sk). */
  peer: UnixSock | null = null;
  /** Models sk_state. */
  state = TCP_CLOSE;
  /** Models sk_shutdown. */
  shutdown = 0;
  /**
   * Models sk_err: a pending socket error, positive (ECONNRESET, set by the peer's
   * unix_release_sock()), 0 for none; sock_error() (include/net/sock.ts) consumes it.
   */
  err = 0;
  /** Models SOCK_DEAD (sock_orphan()). */
  dead = false;
  /** Models sk->sk_socket->file: the socket's file, null once orphaned. */
  file: File | null = null;
  /** Models u->vertex: this socket's vertex while its fd is in flight (garbage.ts). */
  vertex: UnixVertexRef | null = null;
  /**
   * Models u->listener: for an embryo (a socket connect() created and queued on a listener),
   * that listener, until unix_accept()'s unix_update_edges() clears it.
   */
  listener: UnixSock | null = null;
  /** Models u->scm_stat.nr_fds. */
  nrFds = 0;
  /** Models u->scm_stat.nr_unix_fds: unix socket fds in flight to this socket. */
  nrUnixFds = 0;
  /**
   * Models u->oob_skb: the skb of the pending OOB byte, on `receiveQueue`, or null. Written under
   * unix_state_lock() and the receive queue lock (read under either); it holds no reference
   * (v6.12.19's and v6.18.35's queue_oob() take none since 8594d9b85c07 "af_unix: Don't call skb_get()
   * for OOB skb."; the kernels before took one):
   * the queue's link is the skb's only owner.
   */
  oobSkb: SkBuff | null = null;
  /** Models SOCK_URGINLINE (SO_OOBINLINE): never set here (no setsockopt()). */
  urgInline = false;

  constructor() {
    super();
    this.queueLock = new SpinLock("af_unix_sk_receive_queue_lock_key", { owner: this });
    this.lock = new SpinLock("&u->lock", { owner: this });
    this.iolock = new Mutex("&u->iolock", { owner: this });
    this.wait = new WaitQueue(`${this.name} sk_wq`);
    this.peerWait = new WaitQueue(`${this.name} peer_wait`);
    this.bindlock = new Mutex("&u->bindlock", { owner: this });
  }
}

/**
 * Models struct sk_buff on a unix socket's receive queue: UNIXCB(skb).fp, the files it carries,
 * and its destructor (unix_destruct_scm()).
 *
 * Locking: queued on one receive queue, under its `queueLock`.
 * References: `fp` holds its files until the skb is consumed or freed.
 */
export class SkBuff extends SlabObject {
  /** Models UNIXCB(skb).fp: the SCM_RIGHTS list, null without one or once detached. */
  fp: ScmFpList | null = null;
  /**
   * Models skb->next/prev: the list the skb is linked on (a receive queue, the collector's
   * hitlist), null when unlinked. __skb_unlink() unlinks it from this list, whichever its caller
   * names, as the kernel's pointer surgery does.
   */
  list: SkBuff[] | null = null;
  /**
   * Models skb->sk of a connect() skb on a listener's queue (sock_wmalloc(newsk)): the embryo
   * it carries, whose sk_wmem_alloc it holds. Null for a sendmsg() skb here.
   */
  sk: UnixSock | null = null;
  /** Models skb->len: the data bytes the skb carries (0 for a connect() skb). */
  len = 0;
  /** Models UNIXCB(skb).consumed: the bytes a reader has taken (unix_skb_len() = len - consumed). */
  consumed = 0;
  /** Models the skb's data (skb_copy_datagram_from_iter()): `len` bytes. */
  data: Uint8Array = EMPTY_DATA;
  /** Models skb->destructor (unix_destruct_scm(), or sock_wfree()), run by kfree_skb()/consume_skb(). */
  destructor: ((skb: SkBuff) => Promise<void>) | null = null;
}

/** The data of an skb without bytes. */
const EMPTY_DATA = new Uint8Array(0);

/** Models unix_skb_len(): the bytes of `skb` not yet read (skb->len - UNIXCB(skb).consumed). */
export function unixSkbLen(skb: SkBuff): number {
  return skb.len - skb.consumed;
}

/** Models skb_peek_next(skb, list): the skb after `skb` on `list`, or null. Locking: `list`'s lock or the owner's. */
export function skbPeekNext(skb: SkBuff, list: readonly SkBuff[]): SkBuff | null {
  const at = list.indexOf(skb);
  return at >= 0 ? (list[at + 1] ?? null) : null;
}

/** Models skb->prev of an skb on `list`: the skb before it, or null at the head (the list itself). */
export function skbPeekPrev(skb: SkBuff, list: readonly SkBuff[]): SkBuff | null {
  const at = list.indexOf(skb);
  return at > 0 ? list[at - 1]! : null;
}

/** Models __skb_queue_tail(). Locking: none of its own: the caller serialises the list (its lock, or a list of its own). */
export function skbQueueTail(list: SkBuff[], skb: SkBuff): void {
  list.push(skb);
  skb.list = list;
}

/** Models __skb_dequeue(): the head skb, unlinked, or undefined. Locking: none of its own, as skbQueueTail(). */
export function skbDequeue(list: SkBuff[]): SkBuff | undefined {
  const skb = list.shift();
  if (skb !== undefined) skb.list = null;
  return skb;
}

/**
 * Models __skb_unlink(skb, list): unlinks the skb from the list it is on (skb->prev/next), which
 * need not be `list` (the kernel does not check).
 * Locking: none of its own; the caller takes `list`'s lock, which need not be the lock of the list
 * the skb is on.
 */
export function skbUnlink(skb: SkBuff, _list: SkBuff[]): void {
  const on = skb.list;
  if (on !== null) {
    const at = on.indexOf(skb);
    if (at >= 0) on.splice(at, 1);
  }
  skb.list = null;
}

/** Models skb_queue_splice_init(from, to): moves every skb of `from` to the tail of `to`. */
export function skbQueueSpliceInit(from: SkBuff[], to: SkBuff[]): void {
  for (const skb of from.splice(0)) skbQueueTail(to, skb);
}
