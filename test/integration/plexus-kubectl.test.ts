// What a user sees with the real kubectl (/usr/bin/kubectl v1.32): a NAD and an annotated pod
// applied with `kubectl apply`, then a CNI ADD through dist/plexus; `kubectl get -o jsonpath`
// reads back the network-status plexus wrote and `kubectl describe pod` shows its events.

import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callsOf, startPlexusHarness, type HarnessPod, type PlexusHarness } from "./plexus-harness.js";
import { resultOf } from "../support/plexus.js";

const KUBECTL = "/usr/bin/kubectl";

const MANIFESTS = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: storage-net
  namespace: shop
spec:
  config: '{"cniVersion":"1.0.0","type":"recorder","result":{"interfaces":[{"name":"stor0","mac":"02:00:00:00:00:05","sandbox":"/var/run/netns/fake"}],"ips":[{"address":"198.18.4.7/24","interface":0}]}}'
---
apiVersion: v1
kind: Pod
metadata:
  name: cart
  namespace: shop
  annotations:
    k8s.v1.cni.cncf.io/networks: storage-net@stor0
spec:
  containers:
  - name: app
    image: registry.k8s.io/pause:3.9
`;

describe("plexus with kubectl", () => {
  let h: PlexusHarness;
  let pod: HarnessPod;

  function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const argv = [`--kubeconfig=${h.kubeconfig}`, `--cache-dir=${join(h.dir, "kube-cache")}`, ...args];
    return new Promise((resolve) => {
      execFile(
        KUBECTL,
        argv,
        { env: { PATH: "/usr/bin:/bin", HOME: h.dir }, timeout: 30_000 },
        (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
        },
      );
    });
  }

  beforeAll(async () => {
    h = await startPlexusHarness();
    const file = join(h.dir, "manifests.yaml");
    await writeFile(file, MANIFESTS);
    const applied = await kubectl("apply", "-f", file);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/networkattachmentdefinition.k8s.cni.cncf.io\/storage-net created/);
    const uid = await kubectl("get", "pod", "cart", "-n", "shop", "-o", "jsonpath={.metadata.uid}");
    expect(uid.code, uid.stderr).toBe(0);
    pod = {
      namespace: "shop",
      name: "cart",
      uid: uid.stdout,
      containerId: "cafe0123",
      netns: "/var/run/netns/fake-cart",
    };
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it("ADD attaches the NAD kubectl applied, with the interface the annotation names", async () => {
    const out = await h.call("ADD", pod);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(resultOf(out).interfaces?.map((i) => i.name)).toEqual(["eth0", "stor0"]);
    expect(callsOf(h.calls(), "ADD").map((c) => [c.env["CNI_IFNAME"], c.stdin["name"]])).toEqual([
      ["eth0", "cluster"],
      ["stor0", "storage-net"],
    ]);
  });

  it("kubectl get reads back the network-status annotation, matching the result", async () => {
    const got = await kubectl(
      "get",
      "pod",
      "cart",
      "-n",
      "shop",
      "-o",
      "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}",
    );
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual([
      { name: "cluster", interface: "eth0", ips: ["198.18.0.2"], mac: "02:00:00:00:00:01", default: true, dns: {} },
      { name: "shop/storage-net", interface: "stor0", ips: ["198.18.4.7"], mac: "02:00:00:00:00:05", dns: {} },
    ]);
    // The selection annotation is untouched.
    const sel = await kubectl(
      "get",
      "pod",
      "cart",
      "-n",
      "shop",
      "-o",
      "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/networks}",
    );
    expect(sel.stdout).toBe("storage-net@stor0");
  });

  it("kubectl describe pod shows one AddedInterface event per interface", async () => {
    const described = await kubectl("describe", "pod", "cart", "-n", "shop");
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/Normal\s+AddedInterface\s+.*Add eth0 \[198\.18\.0\.2\/24\] from cluster/);
    expect(described.stdout).toMatch(
      /Normal\s+AddedInterface\s+.*Add stor0 \[198\.18\.4\.7\/24\] from shop\/storage-net/,
    );
    const events = await kubectl(
      "get",
      "events",
      "-n",
      "shop",
      "--field-selector",
      "involvedObject.name=cart",
      "-o",
      'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
    );
    expect(events.stdout.trim().split("\n")).toEqual(["AddedInterface", "AddedInterface"]);
  });

  it("a pod kubectl applies with a missing network gets a Warning event kubectl shows", async () => {
    const file = join(h.dir, "broken.yaml");
    await writeFile(
      file,
      MANIFESTS.split("---\n")[2]!.replace("name: cart", "name: broken").replace("storage-net@stor0", "no-such-net"),
    );
    expect((await kubectl("apply", "-f", file)).code).toBe(0);
    const uid = (await kubectl("get", "pod", "broken", "-n", "shop", "-o", "jsonpath={.metadata.uid}")).stdout;
    const out = await h.call("ADD", {
      namespace: "shop",
      name: "broken",
      uid,
      containerId: "beef0123",
      netns: "/var/run/netns/fake-broken",
    });
    expect(out.code).not.toBe(0);
    const described = await kubectl("describe", "pod", "broken", "-n", "shop");
    expect(described.stdout).toMatch(
      /Warning\s+NoNetworkFound\s+.*network-attachment-definition "no-such-net" not found in namespace "shop" \(pod shop\/broken\)/,
    );
  });
});
