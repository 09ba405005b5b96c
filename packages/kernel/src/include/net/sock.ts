/**
 * The parts of include/net/sock.h (Linux v6.18) that AF_UNIX's paths call and that are no field
 * of struct sock (those are in include/net/af-unix.ts): sock_error().
 */

import type { UnixSock } from "./af-unix.js";

/**
 * Models sock_error(): 0 when sk_err is 0 (the kernel's data_race() read, no atomic operation),
 * else the error, consumed (xchg(&sk->sk_err, 0)) and returned negative: one reader gets it, the
 * next gets 0.
 *
 * Locking: none required (the kernel's read and xchg() are lockless); the callers here hold
 * unix_state_lock() or read it in the step of a check under no lock, as their doc comments say.
 * References: the caller holds one on `sk`.
 */
export function sockError(sk: UnixSock): number {
  if (sk.err === 0) return 0;
  const err = sk.err;
  sk.err = 0;
  return -err;
}
