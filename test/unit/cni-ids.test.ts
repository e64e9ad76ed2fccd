// Identifiers that must never be swapped, and the rules that make them.
// CNI SPEC §2; libcni pkg/utils/utils.go and skel validateConfig; Kubernetes DNS-1123 names.

import type { z } from "zod";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/cni/error.js";
import { AttachmentRecordSchema } from "../../src/cache/record.js";
import {
  ContainerIdSchema,
  IfNameSchema,
  NamespaceSchema,
  PodNameSchema,
  PodUidSchema,
  MAX_IFNAME_BYTES,
  ifNameProblem,
  isDns1123Label,
  isDns1123Subdomain,
  isValidNetworkName,
  parseContainerId,
  parseIfName,
  parseNamespace,
  parseNetworkName,
  parsePodName,
  parsePodUid,
} from "../../src/cni/ids.js";
import { thrown } from "../support/cni-error.js";

describe("container IDs", () => {
  it("an empty ID is an unknown container: code 3 `missing containerID`", () => {
    const err = thrown(() => parseContainerId(""));
    expect([err.code, err.msg]).toStrictEqual([ErrorCode.UnknownContainer, "missing containerID"]);
  });

  it("an ID of 129 characters or more is code 4 saying how long; 128 is fine", () => {
    for (const n of [129, 5000]) {
      const err = thrown(() => parseContainerId("a".repeat(n)));
      expect([err.code, err.msg]).toStrictEqual([
        ErrorCode.InvalidEnvironment,
        `containerID is too long (${n} characters; at most 128)`,
      ]);
    }
    expect(parseContainerId("a".repeat(128))).toBe("a".repeat(128));
  });

  it.each(["_abc", "a b", "a/b"])("%j: code 4 `invalid characters in containerID`", (id) => {
    const err = thrown(() => parseContainerId(id));
    expect([err.code, err.msg, err.details]).toStrictEqual([
      ErrorCode.InvalidEnvironment,
      "invalid characters in containerID",
      id,
    ]);
  });
});

describe("network names (skel validateConfig)", () => {
  it("an empty name: code 7 `missing network name`", () => {
    const err = thrown(() => parseNetworkName(""));
    expect([err.code, err.msg]).toStrictEqual([ErrorCode.InvalidNetworkConfig, "missing network name"]);
  });

  it.each(["1234%%%", "-net", "_net", "my net", "a/b", "../x"])(
    "%j: code 7 `invalid characters found in network name`",
    (name) => {
      const err = thrown(() => parseNetworkName(name));
      expect([err.code, err.msg, err.details]).toStrictEqual([
        ErrorCode.InvalidNetworkConfig,
        "invalid characters found in network name",
        name,
      ]);
      expect(isValidNetworkName(name)).toBe(false);
    },
  );

  it.each(["eth0", "dbnet", "macvlan-conf", "k8s-pod-network", "1.2_3-x", "A"])("%j is valid", (name) => {
    expect(parseNetworkName(name)).toBe(name);
    expect(isValidNetworkName(name)).toBe(true);
  });
});

describe("interface names", () => {
  it("the limit is IFNAMSIZ - 1 = 15 bytes", () => {
    expect(MAX_IFNAME_BYTES).toBe(15);
    expect(ifNameProblem("a".repeat(15))).toBeUndefined();
    expect(ifNameProblem("a".repeat(16))).toMatch(/^interface name is too long/);
  });

  it("an empty name", () => {
    const err = thrown(() => parseIfName(""));
    expect([err.code, err.msg]).toStrictEqual([ErrorCode.InvalidEnvironment, "interface name is empty"]);
  });

  it("parseIfName returns the name unchanged", () => {
    expect(parseIfName("net1@")).toBe("net1@");
  });
});

describe("Kubernetes names", () => {
  it.each([
    ["a", true],
    ["team-a", true],
    ["0", true],
    ["a".repeat(63), true],
    ["a".repeat(64), false],
    ["", false],
    ["Team-a", false],
    ["-a", false],
    ["a-", false],
    ["a.b", false],
    ["a_b", false],
  ])("DNS-1123 label %j: %s", (v, ok) => {
    expect(isDns1123Label(v)).toBe(ok);
    if (ok) expect(parseNamespace(v)).toBe(v);
    else expect(thrown(() => parseNamespace(v)).code).toBe(ErrorCode.InvalidEnvironment);
  });

  it.each([
    ["web-0", true],
    ["web.v2-0", true],
    ["a." + "b".repeat(251), true],
    ["a." + "b".repeat(252), false],
    ["", false],
    ["web..0", false],
    [".web", false],
    ["Web", false],
    ["web_0", false],
  ])("DNS-1123 subdomain %j: %s", (v, ok) => {
    expect(isDns1123Subdomain(v)).toBe(ok);
    if (ok) expect(parsePodName(v)).toBe(v);
    else expect(thrown(() => parsePodName(v)).msg).toBe(`invalid pod name ${JSON.stringify(v)}`);
  });

  it.each([
    ["2f6c1a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", true],
    ["U-1", true],
    ["a".repeat(64), true],
    ["a".repeat(65), false],
    ["", false],
    ["u_1", false],
  ])("pod UID %j: %s", (v, ok) => {
    if (ok) expect(parsePodUid(v)).toBe(v);
    else expect(thrown(() => parsePodUid(v)).msg).toBe(`invalid pod UID ${JSON.stringify(v)}`);
  });
});

describe("the same rules as schemas (what the cache reads back keeps its type)", () => {
  // Each schema must accept exactly what its parser accepts.
  const cases: [string, z.ZodType, (v: string) => unknown, string[]][] = [
    ["container ID", ContainerIdSchema, parseContainerId, ["c1", "a.b_c-d", "", "../etc", "a b", "a/b"]],
    ["interface name", IfNameSchema, parseIfName, ["eth0", "net1", "", ".", "..", "a/b", "x".repeat(16), "a b"]],
    ["namespace", NamespaceSchema, parseNamespace, ["team-a", "Team", "a.b", "", "-a"]],
    ["pod name", PodNameSchema, parsePodName, ["web-0", "a.b", "Web", "", "a_b"]],
    ["pod UID", PodUidSchema, parsePodUid, ["0f1e2d3c-aaaa", "", "a/b", "x".repeat(65)]],
  ];
  it.each(cases)("%s", (_, schema, parse, values) => {
    for (const v of values) {
      const parserAccepts = (() => {
        try {
          parse(v);
          return true;
        } catch {
          return false;
        }
      })();
      expect(schema.safeParse(v).success, JSON.stringify(v)).toBe(parserAccepts);
    }
  });

  it("a state file naming an interface that is a path is not a record", () => {
    const record = {
      kind: "plexus.attachment",
      version: 1,
      containerId: "c1",
      primaryIfName: "eth0",
      ifName: "net1",
      index: 1,
      role: "selected",
      networkRef: "team-a/net",
      netns: "/run/netns/x",
      cniArgs: [],
      capabilityArgs: {},
      config: {},
      state: "planned",
      createdAt: "t",
      updatedAt: "t",
    };
    expect(AttachmentRecordSchema.safeParse(record).success).toBe(true);
    expect(AttachmentRecordSchema.safeParse({ ...record, ifName: "../x" }).success).toBe(false);
    expect(AttachmentRecordSchema.safeParse({ ...record, containerId: "../etc" }).success).toBe(false);
    expect(AttachmentRecordSchema.safeParse({ ...record, pod: { namespace: "Team", name: "p" } }).success).toBe(false);
  });
});
