// auxiliaryCNIChainName through dist/plexus with recording delegates: what the chain's plugins
// receive (the chain's name and cniVersion, an empty prevResult first, CNI_IFNAME net<position>),
// the order of ADD and DEL, and a broken chain file as an error naming it.

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callsOf,
  NETWORKS,
  netResult,
  recorderNad,
  startPlexusHarness,
  wireError,
  type PlexusHarness,
} from "./plexus-harness.js";
import { resultOf } from "../support/plexus.js";

describe("auxiliaryCNIChainName with recording delegates", () => {
  let h: PlexusHarness;
  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("aux", "second", recorderNad({ marker: "second", result: netResult("net1", "198.18.3.2/24") }));
    const chain = join(h.dir, "vendor");
    await mkdir(chain);
    // Read in Go's ReadDir order; only .conf files (libcni NetworkPluginConfsFromFiles).
    await writeFile(join(chain, "20-b.conf"), JSON.stringify({ type: "recorder", marker: "b" }));
    await writeFile(join(chain, "10-a.conf"), JSON.stringify({ type: "recorder", marker: "a", cniVersion: "0.3.1" }));
    await writeFile(join(chain, "30-c.json"), JSON.stringify({ type: "recorder", marker: "ignored" }));
    const broken = join(h.dir, "broken");
    await mkdir(broken);
    await writeFile(join(broken, "10-no-type.conf"), JSON.stringify({ marker: "x" }));
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it("the chain runs last, its plugins in file order, the first from an empty result; DEL runs it first, in reverse", async () => {
    const conf = h.conf({ auxiliaryCNIChainName: "vendor" });
    const pod = h.createPod("aux", "web-0", { [NETWORKS]: "second" });
    await h.resetCalls();
    const out = await h.call("ADD", pod, { conf });
    expect(out.code, out.stdout).toBe(0);
    const adds = callsOf(h.calls(), "ADD");
    expect(adds.map((c) => [c.env["CNI_IFNAME"], c.stdin["marker"] ?? null])).toEqual([
      ["eth0", null],
      ["net1", "second"],
      ["net2", "a"],
      ["net2", "b"],
    ]);
    const [a, b] = [adds[2]!.stdin, adds[3]!.stdin];
    expect([a["name"], a["cniVersion"], b["name"], b["cniVersion"]]).toEqual(["vendor", "1.0.0", "vendor", "1.0.0"]);
    expect(a["prevResult"]).toEqual({ cniVersion: "1.0.0" });
    expect(b["prevResult"]).toEqual({ cniVersion: "1.0.0" });
    // Nothing of the chain in the result the runtime gets.
    expect(resultOf(out).interfaces?.map((i) => i.name)).toEqual(["eth0", "net1"]);
    await h.resetCalls();
    expect((await h.call("DEL", pod, { conf })).code).toBe(0);
    expect(callsOf(h.calls(), "DEL").map((c) => [c.env["CNI_IFNAME"], c.stdin["marker"] ?? null])).toEqual([
      ["net2", "b"],
      ["net2", "a"],
      ["net1", "second"],
      ["eth0", null],
    ]);
  });

  it("a chain file without a type fails ADD naming the file, before any delegate runs", async () => {
    const pod = h.createPod("aux", "web-1");
    await h.resetCalls();
    const err = wireError(await h.call("ADD", pod, { conf: h.conf({ auxiliaryCNIChainName: "broken" }) }));
    expect(err.code).toBe(7);
    expect(err.msg).toBe(`${join(h.dir, "broken", "10-no-type.conf")}: error parsing configuration: missing 'type'`);
    expect(callsOf(h.calls(), "ADD")).toEqual([]);
  });

  it("a chain name that is not a CNI network name is refused", async () => {
    const pod = h.createPod("aux", "web-2");
    const err = wireError(await h.call("ADD", pod, { conf: h.conf({ auxiliaryCNIChainName: "../etc" }) }));
    expect(err.msg).toContain('auxiliaryCNIChainName "../etc" is not a valid CNI network name');
  });
});
