// Bad input and failing delegates: ADD fails with a clear CNI error naming the pod and the
// network, leaves no link and no lease behind, and the DEL the runtime sends next succeeds, even
// when a delegate's own DEL would fail now that its resources are gone. In both modes (thin, and
// the shim with the daemon).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakePluginDir } from "../support/cni-plugins.js";
import { execIn, links } from "../support/netns.js";
import { MODES, startTestNode, type TestNode, type TestPod } from "../support/plexus-node.js";
import { isRoot } from "../support/root.js";
import { errorOf } from "../support/plexus.js";
import { eventsOnceIn, type RecordedEvent } from "../support/events.js";

describe.skipIf(!isRoot).each(MODES)("failed ADDs leave nothing behind (%s mode)", (mode) => {
  let n: TestNode;
  let master: string;
  let nodeLinksBefore: string[];

  beforeAll(async () => {
    n = await startTestNode(`fail-${mode}`, { mode });
    master = `${n.net.prefix}m`.slice(-15);
    await execIn(n.node, ["ip", "link", "add", master, "type", "veth", "peer", "name", `${master.slice(0, 13)}p`]);
    await execIn(n.node, ["ip", "link", "set", master, "up"]);
    n.createNad("team-a", "macvlan-ok", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master,
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.1.0/24" }]] },
    });
    // IPAM types are binaries too: a path is refused before macvlan runs (the plugin would create
    // net1, then fail to find its IPAM plugin, and its own DEL would fail on the same lookup).
    for (const [name, type] of [
      ["macvlan-ipam-path", "../host-local"],
      ["macvlan-ipam-self", "plexus"],
      ["macvlan-ipam-missing", "no-such-ipam"],
    ] as const) {
      n.createNad("team-a", name, {
        cniVersion: "1.0.0",
        type: "macvlan",
        master,
        ipam: { type, dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.4.0/24" }]] },
      });
    }
    n.createNad("team-a", "broken-json", "{ this is not json");
    n.createNad("team-a", "no-type", { cniVersion: "1.0.0", plugins: [{ master }] });
    n.createNad("team-a", "ipvlan", {
      cniVersion: "1.0.0",
      type: "ipvlan",
      master,
      ipam: { type: "host-local", dataDir: n.ipamDir, ranges: [[{ subnet: "198.18.3.0/24" }]] },
    });
    // A delegate that fails ADD, and whose DEL fails too (as plugins do when their resources are gone).
    n.createNad("team-a", "failing", {
      cniVersion: "1.0.0",
      name: "failing",
      type: "recorder",
      fail: { code: 7, msg: "boom from the failing delegate" },
      failOn: ["ADD", "DEL"],
    });
    // Prime the cluster bridge so its existence is not counted as a leftover of the failures.
    const primer = await n.createPod("team-a", "primer");
    expect((await run(primer, "ADD")).code).toBe(0);
    expect((await run(primer, "DEL")).code).toBe(0);
    nodeLinksBefore = (await links(n.node)).map((l) => l.ifname).sort();
  });
  afterAll(async () => {
    await n?.cleanup();
  });

  function run(pod: TestPod, command: string, netns?: string) {
    return n.call(command, pod, { cniPath: [...n.cniPath, fakePluginDir], ...(netns !== undefined ? { netns } : {}) });
  }

  async function expectNothingLeft(pod: TestPod) {
    expect((await links(pod.netns)).map((l) => l.ifname)).toEqual(["lo"]);
    expect((await links(n.node)).map((l) => l.ifname).sort()).toEqual(nodeLinksBefore);
    expect(await n.leases()).toEqual([]);
  }

  const cases = [
    {
      title: "a missing NAD",
      annotation: "macvlan-ok, nope",
      code: 100,
      msg: /network-attachment-definition "nope" not found in namespace "team-a" \(pod team-a\/bad-0\)/,
    },
    { title: "an invalid NAD config (not JSON)", annotation: "broken-json", code: 7, msg: /team-a\/broken-json/ },
    {
      title: "an invalid NAD config (a plugin without type)",
      annotation: "no-type",
      code: 7,
      msg: /team-a\/no-type.*type/,
    },
    {
      title: "an invalid annotation",
      annotation: "macvlan-ok,Net_A",
      code: 7,
      msg: /pod team-a\/bad-3: annotation k8s.v1.cni.cncf.io\/networks.*Net_A/,
    },
    {
      title: "a failing delegate after a successful one",
      annotation: "macvlan-ok, failing",
      code: 7,
      msg: /pod team-a\/bad-4: network "team-a\/failing" \(net2\).*boom from the failing delegate/,
    },
    {
      title: "a macvlan NAD whose IPAM type is a path",
      annotation: "macvlan-ok, macvlan-ipam-path",
      code: 7,
      msg: /team-a\/macvlan-ipam-path: spec.config: plugin 0 has ipam type "..\/host-local"/,
    },
    {
      title: "a macvlan NAD whose IPAM type is Plexus",
      annotation: "macvlan-ipam-self",
      code: 7,
      msg: /team-a\/macvlan-ipam-self: spec.config: plugin 0 has ipam type "plexus"; that is Plexus itself/,
    },
    {
      title: "a macvlan NAD whose IPAM plugin is missing (found by the fuzz tier)",
      annotation: "macvlan-ipam-missing",
      code: 7,
      msg: /plugin type="macvlan".*failed \(add\): its ipam plugin: failed to find plugin "no-such-ipam"/,
    },
    {
      title: "ipvlan, which this kernel lacks (the plugin reports code 999)",
      annotation: "ipvlan",
      code: 999,
      msg: /network "team-a\/ipvlan" \(net1\).*failed to create ipvlan: operation not supported/,
    },
  ];

  it.each(cases.map((c, i) => ({ ...c, i })))(
    "$title: clear error, nothing left, the next DEL succeeds",
    async ({ annotation, code, msg, i }) => {
      const pod = await n.createPod("team-a", `bad-${i}`, { "k8s.v1.cni.cncf.io/networks": annotation });
      const add = await run(pod, "ADD");
      expect(add.code).toBe(1);
      // stdout is one JSON document: the CNI error, in the caller's version.
      expect(add.stdout.trim().split("\n")).toHaveLength(1);
      expect(add.json).toMatchObject({ cniVersion: "1.0.0", code });
      expect(errorOf(add).msg).toMatch(msg);
      await expectNothingLeft(pod);
      // The runtime DELs after a failed ADD, then again with an empty netns on RemovePodSandbox.
      const del = await run(pod, "DEL");
      expect(del.code, del.stdout).toBe(0);
      expect((await run(pod, "DEL", "")).code).toBe(0);
      await expectNothingLeft(pod);
      // Events may be written after the answer (the daemon sends them asynchronously).
      const warnings = (events: RecordedEvent[]) =>
        events.filter((e) => e.involvedObject.name === pod.name && e.type === "Warning");
      const events = await eventsOnceIn(n.api.store, "team-a", (all) => warnings(all).length > 0);
      expect(warnings(events).length).toBeGreaterThan(0);
    },
  );
});
