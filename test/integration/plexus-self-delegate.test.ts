// Plexus never runs itself as a delegate. A NAD whose type is Plexus makes each level read the
// same pod and run itself again, without end (issue: 884 processes before the runtime's
// deadline). Refused by name (the names Plexus is installed under), by identity (a link to one
// of Plexus's own files, whatever its name), and, for a copy under another name, by nesting:
// every delegate runs with PLEXUS_DEPTH set, and a Plexus that finds it set refuses at once.
// Both modes: thin (dist/plexus) and daemon (dist/plexus-shim to a dist/plexus daemon, where a
// nested call for the same container must be refused before it waits in that container's lane).

import { copyFile, mkdir, symlink, writeFile, chmod } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakePluginDir } from "../support/cni-plugins.js";
import { plexusBin, shimBin } from "../support/plexus.js";
import { startPlexusDaemon, type TestDaemon } from "../support/plexus-daemon.js";
import { containerEntries } from "../support/state-dir.js";
import {
  callsOf,
  NETWORKS,
  startPlexusHarness,
  wireError,
  type HarnessPod,
  type PlexusHarness,
} from "./plexus-harness.js";
import { decodeVersionInfo } from "../../src/cni/version-info.js";

describe.each(["thin", "daemon"] as const)("Plexus as its own delegate (%s mode)", (mode) => {
  let h: PlexusHarness;
  let daemon: TestDaemon | undefined;
  let binDir: string;
  let marker: string;
  let seq = 0;
  const via = (): { daemonSocket?: string } => (daemon ? { daemonSocket: daemon.socket } : {});

  beforeAll(async () => {
    h = await startPlexusHarness();
    binDir = join(h.dir, "bin");
    marker = join(h.dir, "ran");
    await mkdir(binDir);
    await copyFile(join(fakePluginDir, "recorder"), join(binDir, "recorder"));
    await chmod(join(binDir, "recorder"), 0o755);
    // Stand-ins under Plexus's installed names (the daemon mode's shim and thin executable):
    // if either ever ran, it would leave a line in `marker`.
    for (const name of ["plexus", "plexus-thin"]) {
      await writeFile(join(binDir, name), `#!/bin/sh\necho "$0" >> ${marker}\nexit 1\n`, { mode: 0o755 });
    }
    await symlink(plexusBin, join(binDir, "linked-plexus"));
    await symlink(join(binDir, "plexus"), join(binDir, "linked-shim"));
    await copyFile(plexusBin, join(binDir, "copied-plexus"));
    await chmod(join(binDir, "copied-plexus"), 0o755);
    await copyFile(shimBin, join(binDir, "copied-shim"));
    await chmod(join(binDir, "copied-shim"), 0o755);
    if (mode === "daemon") daemon = await startPlexusDaemon({ dir: h.dir, kubeconfig: h.kubeconfig });
  });
  afterAll(async () => {
    await daemon?.stop();
    await h?.cleanup();
  });

  async function addWith(type: string): Promise<{ pod: HarnessPod; out: Awaited<ReturnType<PlexusHarness["call"]>> }> {
    const name = `self-${++seq}`;
    h.createNad("self", name, { cniVersion: "1.0.0", type });
    const pod = h.createPod("self", `pod-${name}`, { [NETWORKS]: name });
    await h.resetCalls();
    const out = await h.call("ADD", pod, { conf: h.conf({ binDir }), ...via() });
    return { pod, out };
  }

  /**
   * After the failed ADD: nothing ran (refused with the NAD) or eth0 was rolled back; nothing is
   * left; the runtime's DEL succeeds.
   */
  async function expectNothingLeft(pod: HarnessPod, refusedWithTheNad = false): Promise<void> {
    if (refusedWithTheNad) expect(h.calls()).toEqual([]);
    else expect(callsOf(h.calls(), "DEL", "eth0")).toHaveLength(1);
    expect((await containerEntries(h.stateDir, pod.containerId)).filter((f) => f !== "tombstone")).toEqual([]);
    const del = await h.call("DEL", pod, { conf: h.conf({ binDir }), ...via() });
    expect(del.code, del.stdout).toBe(0);
    expect(existsSync(marker) ? readFileSync(marker, "utf8") : "").toBe("");
  }

  it.each(["plexus", "plexus-thin"])(
    "type %j (an installed name of Plexus) is refused before it runs",
    async (type) => {
      const { pod, out } = await addWith(type);
      const err = wireError(out);
      expect(err.code).toBe(7);
      expect(err.cniVersion).toBe("1.0.0");
      expect(err.msg).toContain(`pod self/${pod.name}`);
      // Refused with the NAD, before the cluster network is even set up.
      expect(err.msg).toContain(`spec.config: plugin 0 has type ${JSON.stringify(type)}; that is Plexus itself`);
      await expectNothingLeft(pod, true);
    },
  );

  it("a link to the running plexus executable under another name is refused before it runs", async () => {
    const { pod, out } = await addWith("linked-plexus");
    const err = wireError(out);
    expect(err.code).toBe(7);
    expect(err.msg).toContain(`plugin type "linked-plexus" is Plexus itself`);
    expect(err.msg).toContain("the same file as");
    await expectNothingLeft(pod);
  });

  it("a link to Plexus's installed shim under another name is refused before it runs", async () => {
    const { pod, out } = await addWith("linked-shim");
    const err = wireError(out);
    expect(err.code).toBe(7);
    expect(err.msg).toContain(`plugin type "linked-shim" is Plexus itself`);
    expect(err.msg).toContain(`the same file as ${join(binDir, "plexus")}`);
    await expectNothingLeft(pod);
  });

  it("a copy under another name runs once and refuses at once: it is nested", async () => {
    const { pod, out } = await addWith("copied-plexus");
    const err = wireError(out);
    expect(err.code).toBe(7);
    expect(err.msg).toContain(`plugin type="copied-plexus"`);
    expect(err.msg).toContain("Plexus was executed as a delegate plugin of Plexus (PLEXUS_DEPTH=1)");
    await expectNothingLeft(pod);
  });

  // Without a daemon the copied shim would look for one at the node's real socket: daemon mode only.
  if (mode === "daemon")
    it("a copy of the shim under another name is refused by the daemon at once", async () => {
      const { pod, out } = await addWith("copied-shim");
      const err = wireError(out);
      expect(err.code).toBe(7);
      expect(err.msg).toContain(`plugin type="copied-shim"`);
      expect(err.msg).toContain("Plexus was executed as a delegate plugin of Plexus (PLEXUS_DEPTH=1)");
      await expectNothingLeft(pod);
    });

  it("every delegate runs with PLEXUS_DEPTH=1", async () => {
    h.createNad("self", "plain", { cniVersion: "1.0.0", type: "recorder" });
    const pod = h.createPod("self", "plain-pod", { [NETWORKS]: "plain" });
    await h.resetCalls();
    const out = await h.call("ADD", pod, { conf: h.conf({ binDir }), ...via() });
    expect(out.code, out.stdout).toBe(0);
    const adds = callsOf(h.calls(), "ADD");
    expect(adds).toHaveLength(2);
    for (const c of adds) expect(c.env["PLEXUS_DEPTH"]).toBe("1");
  });

  it.each(["ADD", "DEL", "CHECK", "STATUS", "GC"])(
    "%s with PLEXUS_DEPTH set refuses at once: one CNI error, nothing run, nothing written",
    async (command) => {
      const pod = h.createPod("self", `nested-${command.toLowerCase()}`);
      await h.resetCalls();
      const out = await h.call(command, pod, {
        conf: h.conf({ cniVersion: "1.1.0" }),
        env: { PLEXUS_DEPTH: "1" },
        ...via(),
      });
      const err = wireError(out);
      expect(err).toEqual({
        cniVersion: "1.1.0",
        code: 7,
        msg: expect.stringContaining("Plexus was executed as a delegate plugin of Plexus (PLEXUS_DEPTH=1)"),
      });
      expect(h.calls()).toEqual([]);
      expect(existsSync(join(h.stateDir, pod.containerId))).toBe(false);
    },
  );

  it("VERSION with PLEXUS_DEPTH set still answers (a probe cannot recurse)", async () => {
    const out = await h.call("VERSION", undefined, {
      stdin: { cniVersion: "1.0.0" },
      env: { PLEXUS_DEPTH: "1" },
      ...via(),
    });
    expect(out.code).toBe(0);
    expect(decodeVersionInfo(out.json).supportedVersions).toContain("1.0.0");
  });
});
