// CNI_ARGS ("K1=V1;K2=V2"): reading what runtimes send, writing what delegates get.
// CNI SPEC §2; libcni pkg/types/args.go LoadArgs; docs/compatibility.md#cni_args (duplicated keys).

import { describe, expect, it } from "vitest";
import { formatCniArgs, parseCniArgs } from "../../src/cni/args.js";
import { ErrorCode } from "../../src/cni/error.js";
import { thrown } from "../support/cni-error.js";

describe("parseCniArgs: what runtimes send", () => {
  it("the CRI-O form: known keys read, unknown FOO tolerated with IgnoreUnknown", () => {
    const args = parseCniArgs(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;FOO=bar",
    );
    expect(args).toStrictEqual({
      ignoreUnknown: true,
      podNamespace: "ns1",
      podName: "pod1",
      podUid: "u-1",
      infraContainerId: "abc",
      pairs: [
        ["IgnoreUnknown", "1"],
        ["K8S_POD_NAMESPACE", "ns1"],
        ["K8S_POD_NAME", "pod1"],
        ["K8S_POD_INFRA_CONTAINER_ID", "abc"],
        ["K8S_POD_UID", "u-1"],
        ["FOO", "bar"],
      ],
    });
  });

  it("the containerd form: IgnoreUnknown last, any order (built from a Go map)", () => {
    const args = parseCniArgs(
      "K8S_POD_UID=2f6c;K8S_POD_INFRA_CONTAINER_ID=9a8b;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=team-a;IgnoreUnknown=1",
    );
    expect(args).toMatchObject({
      ignoreUnknown: true,
      podNamespace: "team-a",
      podName: "web-0",
      podUid: "2f6c",
      infraContainerId: "9a8b",
    });
  });

  it("IP and MAC are known keys (the static IPAM / tuning conventions)", () => {
    expect(parseCniArgs("IP=198.18.0.5/24;MAC=00:11:22:33:44:55").pairs).toStrictEqual([
      ["IP", "198.18.0.5/24"],
      ["MAC", "00:11:22:33:44:55"],
    ]);
  });

  it.each(["", ";", ";;"])("%j has no pairs and no fields", (text) => {
    expect(parseCniArgs(text)).toStrictEqual({ ignoreUnknown: false, pairs: [] });
  });

  it("an empty value is accepted and leaves the field unset", () => {
    const args = parseCniArgs("K8S_POD_NAMESPACE=;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=");
    expect(args).toStrictEqual({
      ignoreUnknown: false,
      podName: "web-0",
      pairs: [
        ["K8S_POD_NAMESPACE", ""],
        ["K8S_POD_NAME", "web-0"],
        ["K8S_POD_INFRA_CONTAINER_ID", ""],
      ],
    });
  });

  it("a repeated key: the first value is read (Multus thin mode repeats keys)", () => {
    expect(parseCniArgs("K8S_POD_NAME=a;K8S_POD_NAME=b").podName).toBe("a");
  });

  it("`K=a=b` gives key K and value `a=b` (split on the first `=` like Multus and CRI-O; libcni LoadArgs would reject it)", () => {
    const args = parseCniArgs("IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=a=b;TOKEN=x==");
    expect(args.infraContainerId).toBe("a=b");
    expect(args.pairs).toContainEqual(["TOKEN", "x=="]);
  });
});

describe("parseCniArgs: IgnoreUnknown", () => {
  it.each(["1", "true", "True", "TRUE"])("IgnoreUnknown=%s tolerates unknown keys", (v) => {
    expect(parseCniArgs(`IgnoreUnknown=${v};FOO=bar`).ignoreUnknown).toBe(true);
  });

  it.each(["0", "false", "False", "FALSE"])("IgnoreUnknown=%s does not", (v) => {
    expect(parseCniArgs(`IgnoreUnknown=${v}`).ignoreUnknown).toBe(false);
    expect(thrown(() => parseCniArgs(`IgnoreUnknown=${v};FOO=bar`)).msg).toBe('CNI_ARGS: unknown args ["FOO=bar"]');
  });

  it("an empty IgnoreUnknown= counts as not set (libcni would reject it; an empty value never means yes)", () => {
    expect(parseCniArgs("IgnoreUnknown=").ignoreUnknown).toBe(false);
    expect(thrown(() => parseCniArgs("IgnoreUnknown=;FOO=bar")).msg).toBe('CNI_ARGS: unknown args ["FOO=bar"]');
  });

  it("its position does not matter", () => {
    expect(parseCniArgs("FOO=bar;K8S_POD_NAME=p;IgnoreUnknown=1").ignoreUnknown).toBe(true);
  });

  it.each(["yes", "on", "2", "truee"])("IgnoreUnknown=%s is an error (code 4)", (v) => {
    const err = thrown(() => parseCniArgs(`IgnoreUnknown=${v}`));
    expect(err.code).toBe(ErrorCode.InvalidEnvironment);
    expect(err.msg).toBe(
      `CNI_ARGS: error parsing value of pair "IgnoreUnknown=${v}": boolean unmarshal error: invalid input ${v}`,
    );
  });
});

describe("parseCniArgs: errors (code 4, message names CNI_ARGS)", () => {
  it("unknown keys without IgnoreUnknown, every one listed as written", () => {
    const err = thrown(() => parseCniArgs("K8S_POD_NAMESPACE=ns1;FOO=bar;BAZ=a=b"));
    expect(err.code).toBe(ErrorCode.InvalidEnvironment);
    expect(err.msg).toBe('CNI_ARGS: unknown args ["FOO=bar","BAZ=a=b"]');
  });

  it.each([
    ["a pair without =", "K8S_POD_NAME", 'CNI_ARGS: invalid pair "K8S_POD_NAME"'],
    ["a pair with an empty key", "=value", 'CNI_ARGS: invalid pair "=value"'],
    ["a bad pair among good ones", "IgnoreUnknown=1;K8S_POD_NAME=p;junk", 'CNI_ARGS: invalid pair "junk"'],
  ])("%s", (_name, text, msg) => {
    const err = thrown(() => parseCniArgs(text));
    expect([err.code, err.msg]).toStrictEqual([ErrorCode.InvalidEnvironment, msg]);
  });

  it.each([
    ["K8S_POD_NAMESPACE", "Team_A", 'invalid namespace "Team_A"'],
    ["K8S_POD_NAMESPACE", "a".repeat(64), `invalid namespace "${"a".repeat(64)}"`],
    ["K8S_POD_NAMESPACE", "team.a", 'invalid namespace "team.a"'],
    ["K8S_POD_NAME", "Web-0", 'invalid pod name "Web-0"'],
    ["K8S_POD_NAME", "web-0-", 'invalid pod name "web-0-"'],
    ["K8S_POD_UID", "2f6c/1", 'invalid pod UID "2f6c/1"'],
  ])("an invalid %s value %j names the key (details say why)", (key, value, details) => {
    const err = thrown(() => parseCniArgs(`IgnoreUnknown=1;${key}=${value}`));
    expect(err.code).toBe(ErrorCode.InvalidEnvironment);
    expect(err.msg).toBe(`CNI_ARGS: invalid ${key}`);
    expect(err.details).toBe(details);
  });

  it("a pod name may be a DNS subdomain (dots allowed), a namespace may not", () => {
    expect(parseCniArgs("K8S_POD_NAME=web.v2-0").podName).toBe("web.v2-0");
  });
});

describe("formatCniArgs: what delegates get", () => {
  it("puts IgnoreUnknown=1 first, then the pairs in order", () => {
    expect(
      formatCniArgs([
        ["K8S_POD_NAMESPACE", "team-a"],
        ["K8S_POD_NAME", "web-0"],
        ["K8S_POD_INFRA_CONTAINER_ID", "9a8b"],
        ["K8S_POD_UID", "2f6c"],
      ]),
    ).toBe(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=team-a;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=9a8b;K8S_POD_UID=2f6c",
    );
  });

  it("with no pairs it is just IgnoreUnknown=1", () => {
    expect(formatCniArgs([])).toBe("IgnoreUnknown=1");
  });

  it("drops later duplicates, an IgnoreUnknown of the input included (whatever its value)", () => {
    expect(
      formatCniArgs([
        ["IgnoreUnknown", "0"],
        ["K8S_POD_NAME", "a"],
        ["IgnoreUnknown", "true"],
        ["K8S_POD_NAME", "b"],
        ["IP", "198.18.0.5"],
      ]),
    ).toBe("IgnoreUnknown=1;K8S_POD_NAME=a;IP=198.18.0.5");
  });

  it("keeps values containing `=` and empty values", () => {
    expect(
      formatCniArgs([
        ["TOKEN", "x=="],
        ["K8S_POD_UID", ""],
      ]),
    ).toBe("IgnoreUnknown=1;TOKEN=x==;K8S_POD_UID=");
  });

  it("reads back to the same fields (Multus thin-mode input with repeated keys)", () => {
    const incoming = parseCniArgs(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;FOO=1",
    );
    const out = formatCniArgs(incoming.pairs);
    expect(out).toBe("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;FOO=1");
    expect(parseCniArgs(out)).toMatchObject({ ignoreUnknown: true, podNamespace: "ns", podName: "p" });
  });
});
