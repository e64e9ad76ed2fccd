// Namespace isolation (multi-net spec §7.4; docs/compatibility.md#namespace-isolation) and the
// system-namespace check (docs/compatibility.md#network-status: Multus compares the pod name).
import { describe, expect, it } from "vitest";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import type { Namespace } from "../../src/cni/ids.js";
import { checkNamespaceIsolation, isSystemNamespace } from "../../src/networks/isolation.js";

const sel = (namespace: string, name = "net-a") => ({ name, namespace: namespace as Namespace });
const on = { namespaceIsolation: true, globalNamespaces: ["default"] };
const off = { namespaceIsolation: false, globalNamespaces: [] };
const ctx = { pod: "team-a/web-0" };

describe("checkNamespaceIsolation", () => {
  it.each([
    ["own namespace, isolation on", sel("team-a"), on],
    ["a global namespace", sel("default"), on],
    ["another namespace, isolation off", sel("team-b"), off],
    [
      "a namespace added to globalNamespaces",
      sel("shared"),
      { namespaceIsolation: true, globalNamespaces: ["shared", "infra"] },
    ],
  ])("allows %s", (_, s, policy) => {
    expect(() => checkNamespaceIsolation(s, "team-a", policy, ctx)).not.toThrow();
  });

  it("another namespace under isolation is Forbidden, naming pod, target namespace and network", () => {
    try {
      checkNamespaceIsolation(sel("team-b", "macvlan-b"), "team-a", on, ctx);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CniError);
      const e = err as CniError;
      expect(e.code).toBe(ErrorCode.Forbidden);
      expect(e.msg).toContain("pod team-a/web-0: annotation k8s.v1.cni.cncf.io/networks: network team-b/macvlan-b");
      expect(e.msg).toContain('is in namespace "team-b"');
      expect(e.msg).toContain('own namespace "team-a" and the global namespaces ("default")');
    }
  });

  it("globalNamespaces replaces the default list (Multus): default is not global when not listed", () => {
    expect(() =>
      checkNamespaceIsolation(
        sel("default"),
        "team-a",
        { namespaceIsolation: true, globalNamespaces: ["shared"] },
        ctx,
      ),
    ).toThrow(/namespaceIsolation/);
    expect(() =>
      checkNamespaceIsolation(sel("default"), "team-a", { namespaceIsolation: true, globalNamespaces: [] }, ctx),
    ).toThrow(/global namespaces \(none\)/);
  });
});

describe("isSystemNamespace compares the namespace (Multus compares the pod name)", () => {
  it.each([
    ["kube-system", ["kube-system"], true],
    ["team-a", ["kube-system"], false],
    ["kube-system", [], false],
    ["openshift-sdn", ["kube-system", "openshift-sdn"], true],
  ])("%s in %j: %s", (ns, list, expected) => {
    expect(isSystemNamespace(ns, list)).toBe(expected);
  });
});
