// Delegate wrappers that pause, for the fault tier: `pause-<type>` runs the real reference plugin
// <type>, but first and last passes a gate the test may have armed, and waits there until the
// test releases it. So a test can SIGKILL plexus before, during (an IPAM plugin paused while its
// main plugin waits for it) and after each delegate, or race another command against it.
//
//   const p = await createPausingPlugins(dir, referencePluginDir(), ["bridge", "host-local"]);
//   conf: binDir p.binDir (types "pause-bridge", ipam "pause-host-local"), env p.env
//   await p.arm("ADD-eth0-bridge-before");    // gate: <CNI_COMMAND>-<CNI_IFNAME>-<type>-<before|after>
//   ... start plexus ...; await p.held("ADD-eth0-bridge-before")
//   await p.releaseAll(); await p.settled()  // every wrapper, plugin and IPAM of this set has ended
//
// A gate stops one process: the first to reach it claims it by renaming the gate file (atomic),
// later ones pass. Every process a wrapper starts inherits PAUSE_DIR, which is how settled()
// finds them all, whoever their parent is now.

import { chmod, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface PausingPlugins {
  /** Holds pause-<type> for each wrapped type. */
  readonly binDir: string;
  /** For plexus's environment (its delegates inherit it). */
  readonly env: Readonly<Record<string, string>>;
  arm(gate: string): Promise<void>;
  /** Waits until a process stopped at `gate`; throws after `timeoutMs` or when `alive()` turns false. */
  held(gate: string, alive?: () => boolean, timeoutMs?: number): Promise<void>;
  /** Disarms every gate and lets every held process go on. */
  releaseAll(): Promise<void>;
  /** Waits until no process started under these wrappers is alive; returns the ones still alive after `timeoutMs`. */
  settled(timeoutMs?: number): Promise<number[]>;
}

const WRAPPER = `#!/bin/sh
# pause-<type>: the real <type>, with gates before and after it (test/support/pausing-plugins.ts).
type=\${0##*/pause-}
gate() {
  g="$PAUSE_DIR/gates/$CNI_COMMAND-$CNI_IFNAME-$type-$1"
  mv "$g" "$g.held-$$" 2>/dev/null || return 0
  while [ -e "$g.held-$$" ]; do sleep 0.02; done
}
gate before
out=$("$PAUSE_REAL_DIR/$type")
rc=$?
gate after
[ -n "$out" ] && printf '%s\\n' "$out"
exit $rc
`;

export async function createPausingPlugins(
  dir: string,
  realDir: string,
  types: readonly string[],
): Promise<PausingPlugins> {
  const binDir = join(dir, "pause-bin");
  const gates = join(dir, "gates");
  await mkdir(binDir, { recursive: true });
  await mkdir(gates, { recursive: true });
  for (const t of types) {
    await writeFile(join(binDir, `pause-${t}`), WRAPPER);
    await chmod(join(binDir, `pause-${t}`), 0o755);
  }
  const marker = `PAUSE_DIR=${dir}`;
  return {
    binDir,
    env: { PAUSE_DIR: dir, PAUSE_REAL_DIR: realDir },
    arm: (gate) => writeFile(join(gates, gate), ""),
    async held(gate, alive = () => true, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if ((await readdir(gates)).some((f) => f.startsWith(`${gate}.held-`))) return;
        if (!alive()) throw new Error(`nothing reached gate ${gate}: the command ended first`);
        if (Date.now() > deadline) throw new Error(`nothing reached gate ${gate} in ${timeoutMs} ms`);
        await sleep(10);
      }
    },
    async releaseAll() {
      for (const f of await readdir(gates)) await rm(join(gates, f), { force: true });
    },
    async settled(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const alive = await processesWithEnv(marker);
        if (alive.length === 0 || Date.now() > deadline) return alive;
        await sleep(20);
      }
    },
  };
}

/** Live (not zombie) processes whose environment holds `entry` ("KEY=value"). */
export async function processesWithEnv(entry: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = (await readFile(`/proc/${name}/environ`)).toString("latin1").split("\0");
      if (!env.includes(entry)) continue;
      const stat = await readFile(`/proc/${name}/stat`, "latin1");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state !== "Z" && state !== "X") found.push(Number(name));
    } catch {
      // Gone while we looked, or not ours to read.
    }
  }
  return found;
}
