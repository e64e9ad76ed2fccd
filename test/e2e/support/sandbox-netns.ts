// Looking inside a pod sandbox's network namespace, and at the node's, the way a test asserts
// on what the kernel holds. Pod netns are pinned by bind mounts inside the node's mount
// namespace, so every command runs through the node (handle.execInNode) and enters the pod's
// netns by path with nsenter.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { ContainerdHandle } from "./containerd.js";
import type { CommandResult, RunOptions } from "./run-command.js";

type Node = Pick<ContainerdHandle, "cri" | "execInNode">;

export interface SandboxNetns {
  readonly sandboxId: string;
  /** The sandbox (pause) process, as a pid in the node's PID namespace. */
  readonly pid: number;
  /** The pinned netns, a path valid inside the node's mount namespace. */
  readonly path: string;
}

/** From PodSandboxStatus verbose info: the netns path of the OCI spec, else /proc/<pid>/ns/net. */
export async function resolveSandboxNetns(node: Node, sandboxId: string): Promise<SandboxNetns> {
  const { verbose } = await node.cri.podSandboxStatus(sandboxId, { verbose: true });
  if (verbose === undefined) throw new Error(`no verbose info for sandbox ${sandboxId}`);
  return { sandboxId, pid: verbose.pid, path: verbose.netnsPath ?? `/proc/${verbose.pid}/ns/net` };
}

/** Runs argv in the sandbox's netns (inside the node's mount and PID namespaces). */
export function execInSandboxNetns(
  node: Node,
  netns: SandboxNetns | string,
  argv: readonly string[],
  options?: RunOptions,
): Promise<CommandResult> {
  const path = typeof netns === "string" ? netns : netns.path;
  return node.execInNode(["nsenter", `--net=${path}`, "--", ...argv], options);
}

const addrInfo = z.looseObject({
  family: z.string(),
  local: z.string(),
  prefixlen: z.number(),
  scope: z.string().optional(),
});
const link = z.looseObject({
  ifindex: z.number(),
  ifname: z.string(),
  flags: z.array(z.string()),
  mtu: z.number(),
  operstate: z.string(),
  link_type: z.string().optional(),
  address: z.string().optional(),
  master: z.string().optional(),
  link: z.string().optional(),
  linkinfo: z.looseObject({ info_kind: z.string().optional() }).optional(),
});
const addr = link.extend({ addr_info: z.array(addrInfo) });
const route = z.looseObject({
  dst: z.string(),
  gateway: z.string().optional(),
  dev: z.string().optional(),
  protocol: z.string().optional(),
  scope: z.string().optional(),
  prefsrc: z.string().optional(),
});
export type IpLink = z.infer<typeof link>;
export type IpAddr = z.infer<typeof addr>;
export type IpRoute = z.infer<typeof route>;

/** `ip -j addr` in the sandbox netns, or in the node's netns when `netns` is undefined. */
export async function ipAddrs(node: Node, netns?: SandboxNetns | string): Promise<IpAddr[]> {
  return z.array(addr).parse(JSON.parse((await ipIn(node, netns, ["-j", "addr"])).stdout));
}

/** `ip -j -d link` (with linkinfo.info_kind: bridge, veth, ...). */
export async function ipLinks(node: Node, netns?: SandboxNetns | string): Promise<IpLink[]> {
  return z.array(link).parse(JSON.parse((await ipIn(node, netns, ["-j", "-d", "link"])).stdout));
}

export async function ipRoutes(node: Node, netns?: SandboxNetns | string, family: "4" | "6" = "4"): Promise<IpRoute[]> {
  return z.array(route).parse(JSON.parse((await ipIn(node, netns, [`-${family}`, "-j", "route"])).stdout));
}

function ipIn(node: Node, netns: SandboxNetns | string | undefined, args: readonly string[]): Promise<CommandResult> {
  return netns === undefined ? node.execInNode(["ip", ...args]) : execInSandboxNetns(node, netns, ["ip", ...args]);
}

/** The IPv4/IPv6 addresses on `ifname`, without prefix length, link-local ones left out. */
export function addressesOf(addrs: readonly IpAddr[], ifname: string): string[] {
  return (addrs.find((a) => a.ifname === ifname)?.addr_info ?? [])
    .filter((a) => a.scope !== "link")
    .map((a) => a.local);
}

/** Whether `path` (inside the node) is still a pinned network namespace. */
export async function isNetnsPinned(node: Node, path: string): Promise<boolean> {
  const r = await node.execInNode(["nsenter", `--net=${path}`, "--", "true"], { allowFailure: true });
  return r.code === 0;
}

export interface HostLocalLease {
  readonly ip: string;
  readonly containerId: string;
  readonly ifname: string;
}

/** host-local's leases: one file per IP under `<dataDir>/<network name>`, "id\r\nifname" inside. */
export async function hostLocalLeases(dataDir: string, networkName: string): Promise<HostLocalLease[]> {
  const dir = join(dataDir, networkName);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const leases: HostLocalLease[] = [];
  for (const name of names) {
    // Skip bookkeeping (lock, last_reserved_ip.N); lease files are named by the IP.
    if (name === "lock" || name.startsWith("last_reserved_ip")) continue;
    const [containerId = "", ifname = ""] = (await readFile(join(dir, name), "utf8")).split(/\r?\n/);
    leases.push({ ip: name, containerId: containerId.trim(), ifname: ifname.trim() });
  }
  return leases;
}
