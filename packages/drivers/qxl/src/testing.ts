/**
 * @primetime/qxl/testing: the machine and scenarios qxl's own tests run on, for other packages'
 * tests and campaigns (the stress app's surface-reaper scenario, cross-driver tests): a kernel
 * with qxl devices and userspace helpers speaking qxl's uapi through raw syscalls (test-machine),
 * qxlSettle() (wait until the device has handed every release back, before unloading), and the
 * concurrent scenarios with the oracles of the known windows qxl.reap-reserve-without-ctx and
 * qxl.ring-push-no-recheck (test-scenarios).
 */

export * from "./test-machine.js";
export * from "./test-scenarios.js";
