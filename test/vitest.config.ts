import { defineConfig } from "vitest/config";

// Five tiers (README "Tests"): unit and integration need nothing; netns, fault and e2e need root
// and real CNI plugins (and, for e2e, containerd). Every tier runs in CI.
export default defineConfig({
  test: {
    root: new URL("..", import.meta.url).pathname,
    setupFiles: ["test/support/setup.ts"],
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 10_000 },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "netns",
          include: ["test/netns/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Network namespaces are cheap, but two cores are not: one file at a time.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: "fault",
          include: ["test/fault/**/*.test.ts"],
          // The churn test sets its own (longer) timeout.
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Kills, races and churn with real delegates: one file at a time on two cores.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          // Property tests (fast-check, a fixed seed printed on failure): parsers in process,
          // and the real executable in a throwaway node namespace with real delegates.
          name: "fuzz",
          include: ["test/fuzz/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
