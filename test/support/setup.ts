// Runs before every test file. Stdout belongs to the CNI protocol in the plugin process, and
// tests hold the same line: a test that writes to the console is a test that leaks logs.
import { afterEach, beforeEach, vi } from "vitest";

let spies: ReturnType<typeof vi.spyOn>[] = [];

beforeEach(() => {
  spies = (["log", "info", "warn", "error", "debug"] as const).map((m) =>
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      throw new Error(`unexpected console.${m} in a test: ${args.map(String).join(" ")}`);
    }),
  );
});

afterEach(() => {
  for (const s of spies) s.mockRestore();
  spies = [];
});
