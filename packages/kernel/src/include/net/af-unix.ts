/**
 * struct unix_sock and the parts of struct sock that AF_UNIX uses (include/net/af_unix.h,
 * include/net/sock.h, Linux v6.18), and struct sk_buff as a unix socket's queue holds it
 * (include/linux/skbuff.h, UNIXCB() of net/unix/af_unix.h).
 *
 * Faithfulness: a stream socket only (socketpair(AF_UNIX, SOCK_STREAM)); an skb carries no data
 * bytes, only its SCM_RIGHTS list (one sendmsg() is one skb); no listen/accept (embryos), no OOB
 * skb, no credentials or peer credentials, no send buffer accounting (sk_wmem_alloc).
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

/** The slab cache of unix sockets (the "UNIX" cache of unix_proto). */
export const unixSockCache = new KmemCache("UNIX");
/** The slab cache of socket buffers (skbuff_head_cache). */
export const skbuffHeadCache = new KmemCache("skbuff_head_cache");

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
 * Locking: `lock` (unix_state_lock()) protects `peer`, `state`, `shutdown`, `dead`;
 * `queueLock` (sk_receive_queue.lock) protects `receiveQueue`; `iolock` serialises readers;
 * `vertex` and `nrUnixFds` are the garbage collector's, under unix_gc_lock.
 * References: `refcnt` (sk_refcnt) counts the socket file's (sock_init_data()) and the peer's
 * (sock_hold() in unix_socketpair()); each queued skb holds its files (its ScmFpList).
 */
export class UnixSock extends SlabObject {
  /** Models sk_refcnt. */
  readonly refcnt = new Kref(this);
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
  /** Models unix_peer(sk). */
  peer: UnixSock | null = null;
  /** Models sk_state. */
  state = TCP_CLOSE;
  /** Models sk_shutdown. */
  shutdown = 0;
  /** Models SOCK_DEAD (sock_orphan()). */
  dead = false;
  /** Models sk->sk_socket->file: the socket's file, null once orphaned. */
  file: File | null = null;
  /** Models u->vertex: this socket's vertex while its fd is in flight (garbage.ts). */
  vertex: UnixVertexRef | null = null;
  /** Models u->listener: always null here (no embryo sockets). */
  readonly listener: UnixSock | null = null;
  /** Models u->scm_stat.nr_fds. */
  nrFds = 0;
  /** Models u->scm_stat.nr_unix_fds: unix socket fds in flight to this socket. */
  nrUnixFds = 0;

  constructor() {
    super();
    this.queueLock = new SpinLock("af_unix_sk_receive_queue_lock_key", { owner: this });
    this.lock = new SpinLock("&u->lock", { owner: this });
    this.iolock = new Mutex("&u->iolock", { owner: this });
    this.wait = new WaitQueue(`${this.name} sk_wq`);
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
  /** Models skb->destructor (unix_destruct_scm()), run by kfree_skb()/consume_skb(). */
  destructor: ((skb: SkBuff) => Promise<void>) | null = null;
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
