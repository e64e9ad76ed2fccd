// The CNI_* environment of one invocation, checked per command the way skel checks it.
// CNI SPEC §2 (required variables); libcni pkg/skel/skel.go (messages), pkg/utils/utils.go (names).

import { describe, expect, it } from "vitest";
import { COMMANDS, isCniCommand, parseCniEnv, type CniCommand } from "../../src/cni/env.js";
import { ErrorCode } from "../../src/cni/error.js";
import { thrown } from "../support/cni-error.js";

const FULL = {
  CNI_CONTAINERID: "3f5d0b1c2a",
  CNI_NETNS: "/var/run/netns/cni-1",
  CNI_IFNAME: "eth0",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0",
  CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
};

const env = (command: string, overrides: Record<string, string | undefined> = {}) => ({
  CNI_COMMAND: command,
  ...FULL,
  ...overrides,
});

describe("required variables per command (skel; code 4)", () => {
  it.each([
    ["ADD", "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"],
    ["CHECK", "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"],
    ["DEL", "CNI_CONTAINERID,CNI_IFNAME,CNI_PATH"],
    ["STATUS", "CNI_PATH"],
    ["GC", "CNI_PATH"],
  ])("%s with nothing else set names [%s] in skel's order", (command, names) => {
    const err = thrown(() => parseCniEnv({ CNI_COMMAND: command }));
    expect(err.code).toBe(ErrorCode.InvalidEnvironment);
    expect(err.msg).toBe(`required env variables [${names}] missing`);
  });

  it.each([
    ["ADD", "CNI_NETNS"],
    ["ADD", "CNI_CONTAINERID"],
    ["ADD", "CNI_IFNAME"],
    ["ADD", "CNI_PATH"],
    ["CHECK", "CNI_NETNS"],
    ["DEL", "CNI_IFNAME"],
    ["DEL", "CNI_PATH"],
    ["GC", "CNI_PATH"],
    ["STATUS", "CNI_PATH"],
  ])("%s without %s", (command, missing) => {
    const err = thrown(() => parseCniEnv(env(command, { [missing]: undefined })));
    expect([err.code, err.msg]).toStrictEqual([
      ErrorCode.InvalidEnvironment,
      `required env variables [${missing}] missing`,
    ]);
  });

  it("an empty value counts as missing", () => {
    const err = thrown(() => parseCniEnv(env("ADD", { CNI_NETNS: "", CNI_PATH: "" })));
    expect(err.msg).toBe("required env variables [CNI_NETNS,CNI_PATH] missing");
  });

  it("an empty CNI_CONTAINERID on ADD is reported as missing (code 4), before any ID rule", () => {
    const err = thrown(() => parseCniEnv(env("ADD", { CNI_CONTAINERID: "" })));
    expect([err.code, err.msg]).toStrictEqual([
      ErrorCode.InvalidEnvironment,
      "required env variables [CNI_CONTAINERID] missing",
    ]);
  });

  it("DEL does not need CNI_NETNS (runtimes repeat DEL after the sandbox is gone)", () => {
    expect(parseCniEnv(env("DEL", { CNI_NETNS: undefined })).netns).toBe("");
    expect(parseCniEnv(env("DEL", { CNI_NETNS: "" })).netns).toBe("");
  });

  it.each(["ADD", "CHECK", "DEL"])("%s never requires CNI_ARGS", (command) => {
    expect(parseCniEnv(env(command, { CNI_ARGS: undefined })).args).toStrictEqual({ ignoreUnknown: false, pairs: [] });
  });

  it.each(["GC", "STATUS"])("%s needs only CNI_PATH (libcni sends the others empty)", (command) => {
    const parsed = parseCniEnv({
      CNI_COMMAND: command,
      CNI_PATH: "/opt/cni/bin",
      CNI_CONTAINERID: "",
      CNI_NETNS: "",
      CNI_IFNAME: "",
      CNI_ARGS: "",
    });
    expect(parsed).toStrictEqual({
      command,
      containerId: undefined,
      netns: "",
      ifName: undefined,
      args: { ignoreUnknown: false, pairs: [] },
      path: ["/opt/cni/bin"],
    });
  });

  it("VERSION needs nothing", () => {
    expect(parseCniEnv({ CNI_COMMAND: "VERSION" }).command).toBe("VERSION");
  });

  it("VERSION does not validate the other variables (skel skips them for VERSION)", () => {
    const parsed = parseCniEnv({
      CNI_COMMAND: "VERSION",
      CNI_NETNS: "dummy",
      CNI_IFNAME: "bad/name",
      CNI_CONTAINERID: "_x",
      CNI_ARGS: "junk",
      CNI_PATH: "dummy",
    });
    expect(parsed).toMatchObject({
      command: "VERSION",
      containerId: undefined,
      ifName: undefined,
      netns: "dummy",
      path: ["dummy"],
    });
  });
});

describe("CNI_COMMAND", () => {
  it("missing or empty: required env variables [CNI_COMMAND] missing (code 4)", () => {
    for (const e of [{}, { CNI_COMMAND: "" }, { ...FULL }]) {
      const err = thrown(() => parseCniEnv(e));
      expect([err.code, err.msg]).toStrictEqual([
        ErrorCode.InvalidEnvironment,
        "required env variables [CNI_COMMAND] missing",
      ]);
    }
  });

  it.each(["BOGUS", "add", "Add", "VERSION ", "INIT"])(
    "unknown command %j (commands are case-sensitive)",
    (command) => {
      const err = thrown(() => parseCniEnv(env(command)));
      expect([err.code, err.msg]).toStrictEqual([ErrorCode.InvalidEnvironment, `unknown CNI_COMMAND: ${command}`]);
    },
  );

  it("an unknown command is reported even when nothing else is set", () => {
    expect(thrown(() => parseCniEnv({ CNI_COMMAND: "BOGUS" })).msg).toBe("unknown CNI_COMMAND: BOGUS");
  });

  it.each(COMMANDS)("%s is a command", (command: CniCommand) => {
    expect(isCniCommand(command)).toBe(true);
    expect(parseCniEnv(env(command)).command).toBe(command);
  });
});

describe("a full environment", () => {
  it("is parsed into ids, args and path", () => {
    expect(parseCniEnv(env("ADD"))).toStrictEqual({
      command: "ADD",
      containerId: "3f5d0b1c2a",
      netns: "/var/run/netns/cni-1",
      ifName: "eth0",
      args: {
        ignoreUnknown: true,
        podNamespace: "default",
        podName: "web-0",
        pairs: [
          ["IgnoreUnknown", "1"],
          ["K8S_POD_NAMESPACE", "default"],
          ["K8S_POD_NAME", "web-0"],
        ],
      },
      path: ["/opt/cni/bin", "/usr/lib/cni"],
    });
  });

  it("CNI_PATH drops empty entries", () => {
    expect(parseCniEnv(env("ADD", { CNI_PATH: ":/opt/cni/bin::/usr/lib/cni:" })).path).toStrictEqual([
      "/opt/cni/bin",
      "/usr/lib/cni",
    ]);
  });

  it("a bad CNI_ARGS fails the invocation with code 4", () => {
    const err = thrown(() => parseCniEnv(env("ADD", { CNI_ARGS: "K8S_POD_NAMESPACE=ns1;FOO=bar" })));
    expect([err.code, err.msg]).toStrictEqual([ErrorCode.InvalidEnvironment, 'CNI_ARGS: unknown args ["FOO=bar"]']);
  });
});

describe("CNI_CONTAINERID rules", () => {
  it.each(["abc", "0", "3f5d0b1c2a9e", "A-b_c.d", "cnitool-77383ca0a0715733ca6f"])("%j is accepted", (id) => {
    expect(parseCniEnv(env("ADD", { CNI_CONTAINERID: id })).containerId).toBe(id);
  });

  it.each(["_abc", "-abc", ".abc", "a b", "a/b", "a:b", "é", "a\n"])(
    "%j is invalid: code 4, details = the ID",
    (id) => {
      const err = thrown(() => parseCniEnv(env("DEL", { CNI_CONTAINERID: id })));
      expect(err.code).toBe(ErrorCode.InvalidEnvironment);
      expect(err.msg).toBe("invalid characters in containerID");
      expect(err.details).toBe(id);
    },
  );
});

describe("CNI_IFNAME rules (Linux dev_valid_name)", () => {
  it.each(["eth0", "net1", "0123456789abcde", "net1@", "a", "e.th-0_x"])("%j is accepted", (name) => {
    expect(parseCniEnv(env("ADD", { CNI_IFNAME: name })).ifName).toBe(name);
  });

  it.each([
    ["16 characters", "0123456789abcdef", "interface name is too long"],
    ["9 characters but 16 bytes", "ééééééé12", "interface name is too long"],
    [".", ".", "interface name is . or .."],
    ["..", "..", "interface name is . or .."],
    ["a slash", "eth/0", "interface name contains / or : or whitespace characters"],
    ["a colon", "eth0:1", "interface name contains / or : or whitespace characters"],
    ["a space", "eth 0", "interface name contains / or : or whitespace characters"],
    ["a tab", "eth\t0", "interface name contains / or : or whitespace characters"],
    ["a newline", "eth0\n", "interface name contains / or : or whitespace characters"],
    ["non-ASCII", "ethé", "interface name contains non-printable or non-ASCII characters"],
    ["a control character", "eth\u00010", "interface name contains non-printable or non-ASCII characters"],
  ])("%s (%j) is invalid: code 4", (_name, ifName, msg) => {
    const err = thrown(() => parseCniEnv(env("ADD", { CNI_IFNAME: ifName })));
    expect(err.code).toBe(ErrorCode.InvalidEnvironment);
    expect(err.msg.startsWith(msg)).toBe(true);
    expect(err.details).toBe(JSON.stringify(ifName));
  });
});
