// Drop-in tolerance: a pod whose selection carries keys from older annotation drafts starts
// under Multus v4 (it ignores keys it does not know), so it starts under Plexus too, with the
// ignored keys named in one Warning Event on the pod; strictSelections: true refuses it and
// leaves nothing behind (docs/compatibility.md, "Input tolerance"). The deprecated interfaceRequest
// key keeps working.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SELECTION_WARNING_REASON } from "../../src/engine/publish.js";
import { addressesOf, execIn, links } from "../support/netns.js";
import { MODES, startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { errorOf } from "../support/plexus.js";
import { eventsIn, eventsOnceIn, type RecordedEvent } from "../support/events.js";

const OLD_DRAFT = '[{"name":"macvlan-a","ipRequest":"198.18.1.50","macRequest":"02:00:00:00:00:50"}]';

describe.skipIf(!isRoot).each(MODES)("selections with keys Multus ignores (%s mode)", (mode) => {
  let n: TestNode;
  let nodeLinksBefore: string[];

  beforeAll(async () => {
    n = await startTestNode(`toler-${mode}`, { mode });
    const master = `${n.net.prefix}m`.slice(-15);
    await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
    await execIn(n.node, ["ip", "link", "set", master, "up"]);
    await execIn(n.node, ["ip", "link", "set", `${master.slice(0, 13)}p`, "up"]);
    n.createNad("team-a", "macvlan-a", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master,
      mode: "bridge",
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.1.0/24" }]] },
    });
    // Prime the cluster bridge so its existence is not counted as a leftover.
    const primer = await n.createPod("team-a", "primer");
    expect((await n.add(primer)).code).toBe(0);
    expect((await n.del(primer)).code).toBe(0);
    nodeLinksBefore = (await links(n.node)).map((l) => l.ifname).sort();
  });
  afterAll(async () => {
    await n?.cleanup();
  });

  const warningsIn = (events: RecordedEvent[], pod: TestPod) =>
    events.filter(
      (e) => e.involvedObject.name === pod.name && e.involvedObject.uid === pod.uid && e.type === "Warning",
    );
  const warningsOn = (pod: TestPod) => warningsIn(eventsIn(n.api.store, pod.namespace), pod);
  /** The pod's Warning Events once `ready` holds (the daemon writes them after answering). */
  const warningsOnce = async (pod: TestPod, ready: (warnings: RecordedEvent[]) => boolean) =>
    warningsIn(await eventsOnceIn(n.api.store, pod.namespace, (events) => ready(warningsIn(events, pod))), pod);

  it("the pod gets eth0 and net1; the ignored keys are in one Warning Event and the log", async () => {
    const pod = await n.createPod("team-a", "old-draft", { "k8s.v1.cni.cncf.io/networks": OLD_DRAFT });
    const out = await n.add(pod);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    const names = (await links(pod.netns)).map((l) => l.ifname).sort();
    expect(names).toEqual(["eth0", "lo", "net1"]);
    // ipRequest and macRequest were ignored, as Multus ignores them: net1 has a host-local lease.
    expect((await addressesOf(pod.netns, "net1")).filter((a) => !a.startsWith("fe80:"))).toEqual([
      expect.stringMatching(/^198\.18\.1\.\d+\/24$/),
    ]);
    const statuses = n.networkStatusOf("team-a", "old-draft");
    expect(statuses.map((s) => s.interface)).toEqual(["eth0", "net1"]);

    const warnings = await warningsOnce(pod, (w) => w.length > 0);
    expect(warnings.map((e) => [e.reason, e.count])).toEqual([[SELECTION_WARNING_REASON, 1]]);
    const message = warnings[0]?.message ?? "";
    expect(message).toContain(
      'annotation k8s.v1.cni.cncf.io/networks, item 1 ("macvlan-a"): unknown key "ipRequest" ignored (did you mean "ips"?)',
    );
    expect(message).toContain('unknown key "macRequest" ignored (did you mean "mac"?)');
    expect(message).toContain("strictSelections");
    // One log line per key, naming the key, the item and the key probably meant (thin: stderr,
    // logToStderr; daemon: the daemon's log).
    const keyLines = (log: string) =>
      log.split("\n").filter((l) => l.includes('"key":') && l.includes("team-a/old-draft"));
    const log = n.daemon ? await n.daemon.logged((l) => keyLines(l).length >= 2) : out.stderr;
    const lines = keyLines(log).map((l) => JSON.parse(l));
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, key: "ipRequest", suggestion: "ips", item: 'item 1 ("macvlan-a")' }),
      expect.objectContaining({ level: 40, key: "macRequest", suggestion: "mac", item: 'item 1 ("macvlan-a")' }),
    ]);
    expect((await n.del(pod)).code).toBe(0);
    // The pod networked again (a runtime retrying its sandbox): the same Event, counted twice.
    expect((await n.add(pod)).code).toBe(0);
    const again = await warningsOnce(pod, (w) => w.some((e) => e.count === 2));
    expect(again.map((e) => [e.reason, e.count, e.message])).toEqual([[SELECTION_WARNING_REASON, 2, message]]);
    expect((await n.del(pod)).code).toBe(0);
  });

  it("the deprecated interfaceRequest names the interface, without a warning, strict or not", async () => {
    for (const [name, strictSelections] of [
      ["old-iface", false],
      ["old-iface-strict", true],
    ] as const) {
      const pod = await n.createPod("team-a", name, {
        "k8s.v1.cni.cncf.io/networks": '[{"name":"macvlan-a","interfaceRequest":"data0"}]',
      });
      const conf = n.conf({ strictSelections });
      const out = await n.add(pod, { conf });
      expect(out.code, out.stdout + out.stderr).toBe(0);
      expect((await links(pod.netns)).map((l) => l.ifname).sort()).toEqual(["data0", "eth0", "lo"]);
      expect(n.networkStatusOf("team-a", name).map((s) => s.interface)).toEqual(["eth0", "data0"]);
      expect(warningsOn(pod)).toEqual([]);
      expect((await n.del(pod, { conf })).code).toBe(0);
      expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
    }
  });

  it("strictSelections: true refuses the pod as before, and leaves nothing behind", async () => {
    const pod = await n.createPod("team-a", "old-draft-strict", { "k8s.v1.cni.cncf.io/networks": OLD_DRAFT });
    const add = await n.add(pod, { conf: n.conf({ strictSelections: true }) });
    expect(add.code).toBe(1);
    expect(add.stdout.trim().split("\n")).toHaveLength(1);
    expect(add.json).toMatchObject({ cniVersion: "1.0.0", code: 7 });
    expect(errorOf(add).msg).toContain(
      'pod team-a/old-draft-strict: annotation k8s.v1.cni.cncf.io/networks, item 1 ("macvlan-a"): unknown key "ipRequest" (did you mean "ips"?)',
    );
    expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
    expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinksBefore);
    expect(await n.leases()).toEqual([]);
    expect((await warningsOnce(pod, (w) => w.length > 0)).map((e) => e.reason)).toEqual(["NetworkSetupFailed"]);
    const del = await n.del(pod, { conf: n.conf({ strictSelections: true }) });
    expect(del.code, del.stdout).toBe(0);
  });
});
