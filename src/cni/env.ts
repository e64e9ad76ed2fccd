// The CNI_* environment of one plugin invocation, checked per command as skel does.
// CNI SPEC §2 "Parameters"; libcni pkg/skel/skel.go (skel also insists on CNI_PATH).

import { parseCniArgs, type CniArgs } from "./args.js";
import { CniError, ErrorCode } from "./error.js";
import { parseContainerId, parseIfName, type ContainerId, type IfName } from "./ids.js";

export const COMMANDS = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"] as const;
export type CniCommand = (typeof COMMANDS)[number];

interface EnvCommon {
  /** Empty on a DEL sent after the sandbox is gone (containerd repeats DEL with CNI_NETNS=""). */
  readonly netns: string;
  readonly args: CniArgs;
  readonly path: readonly string[];
}

/** ADD, DEL, CHECK: one container's interface, so the container ID and CNI_IFNAME are required. */
export interface ContainerEnv extends EnvCommon {
  readonly command: "ADD" | "DEL" | "CHECK";
  readonly containerId: ContainerId;
  readonly ifName: IfName;
}

/** STATUS, GC, VERSION: about the network, not a container. */
export interface NetworkEnv extends EnvCommon {
  readonly command: "STATUS" | "GC" | "VERSION";
  readonly containerId: ContainerId | undefined;
  readonly ifName: IfName | undefined;
}

export type CniEnv = ContainerEnv | NetworkEnv;

type Var = "CNI_COMMAND" | "CNI_CONTAINERID" | "CNI_NETNS" | "CNI_IFNAME" | "CNI_ARGS" | "CNI_PATH";
const REQUIRED: Record<CniCommand, readonly Var[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
  STATUS: ["CNI_PATH"],
  GC: ["CNI_PATH"],
  VERSION: [],
};

const NO_ARGS: CniArgs = { ignoreUnknown: false, pairs: [] };

export function isCniCommand(v: string): v is CniCommand {
  return (COMMANDS as readonly string[]).includes(v);
}

export function parseCniEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const command = env["CNI_COMMAND"] ?? "";
  if (command === "") {
    throw new CniError(ErrorCode.InvalidEnvironment, "required env variables [CNI_COMMAND] missing");
  }
  if (!isCniCommand(command)) throw new CniError(ErrorCode.InvalidEnvironment, `unknown CNI_COMMAND: ${command}`);
  const missing = REQUIRED[command].filter((v) => !env[v]);
  if (missing.length > 0) {
    throw new CniError(ErrorCode.InvalidEnvironment, `required env variables [${missing.join(",")}] missing`);
  }
  const path = (env["CNI_PATH"] ?? "").split(":").filter((d) => d !== "");
  // skel validates nothing else for VERSION: a runtime's probe must never fail on its env.
  if (command === "VERSION") {
    return { command, containerId: undefined, netns: env["CNI_NETNS"] ?? "", ifName: undefined, args: NO_ARGS, path };
  }
  // Present for ADD, DEL and CHECK (REQUIRED above); STATUS and GC may carry them too.
  const containerId = env["CNI_CONTAINERID"] ? parseContainerId(env["CNI_CONTAINERID"]) : undefined;
  const ifName = env["CNI_IFNAME"] ? parseIfName(env["CNI_IFNAME"]) : undefined;
  const common = { netns: env["CNI_NETNS"] ?? "", args: parseCniArgs(env["CNI_ARGS"] ?? ""), path };
  if (command === "STATUS" || command === "GC") return { command, containerId, ifName, ...common };
  if (containerId === undefined || ifName === undefined) {
    throw new CniError(ErrorCode.InvalidEnvironment, "required env variables [CNI_CONTAINERID,CNI_IFNAME] missing");
  }
  return { command, containerId, ifName, ...common };
}
