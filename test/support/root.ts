// Tiers that touch the kernel need root. They do not skip quietly: the summary printed by
// test/run.sh counts skipped tests, and CI fails when a root tier was skipped.
export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
