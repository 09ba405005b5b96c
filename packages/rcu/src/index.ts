export {
  callRcu,
  type RcuCallback,
  RcuHead,
  rcuBarrier,
  rcuGetGpSeq,
  rcuPendingCallbacks,
  synchronizeRcu,
} from "./grace-period.js";
export {
  ListHead,
  listAddRcu,
  listAddTailRcu,
  listDelRcu,
  listEmpty,
  listEntries,
  listFirstOrNullRcu,
  listForEachEntryRcu,
  listReplaceRcu,
} from "./rcu-list.js";
export {
  type LockdepCondition,
  RCU_SPLAT,
  rcuLockdepWarn,
  rcuReadLockHeld,
  rcuSleepCheck,
} from "./rcu-lockdep.js";
export {
  RcuPointer,
  rcuAccessPointer,
  rcuAssignPointer,
  rcuDereference,
  rcuDereferenceAfterPoint,
  rcuDereferencePoint,
  rcuDereferenceProtected,
  rcuDereferenceProtectedSettled,
  rcuInitPointer,
  rcuReplacePointer,
} from "./rcu-pointer.js";
export { rcuPreemptDepth, rcuReadLock, rcuReadUnlock, scopedGuardRcu } from "./rcu-read.js";
export { rcuSeqState } from "./rcu-state.js";
