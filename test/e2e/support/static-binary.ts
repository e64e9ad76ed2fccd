// Compiles the small C fixtures of the e2e tier (the pause process, the node's init) with
// `gcc -static`, once per source text: the result is cached outside the git tree, keyed by the
// sha256 of the source, so reruns cost nothing and an edited source is rebuilt.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "./run-command.js";

/** Where built fixtures live between runs: outside git, wiped by nothing but the OS. */
export function defaultCacheDir(): string {
  return join(tmpdir(), "plexus-e2e-cache");
}

export function fixturePath(...parts: string[]): string {
  return new URL(`../fixtures/${parts.join("/")}`, import.meta.url).pathname;
}

/** Returns the path of the static executable built from `source` (a .c file). */
export async function buildStaticBinary(source: string, name: string, cacheDir = defaultCacheDir()): Promise<string> {
  const text = await readFile(source);
  const key = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const out = join(cacheDir, `${name}-${key}`);
  if (await isFile(out)) return out;
  await mkdir(cacheDir, { recursive: true });
  // Build under a unique name and rename: two runs racing both end with a whole file.
  const partial = `${out}.${process.pid}.partial`;
  await runCommand(["gcc", "-static", "-Os", "-s", "-Wall", "-Werror", "-o", partial, source], {
    timeoutMs: 120_000,
  });
  await rename(partial, out);
  return out;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
