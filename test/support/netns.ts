// Throwaway network namespaces for the netns tier (root). Everything a test builds lives in
// namespaces it created; nothing is ever added to the machine's own namespace.
//
//   const net = createNetScope("bridge");       // names: "<run prefix>-bridge-<tag>", unique per run
//   afterAll(() => net.cleanup());              // deletes every namespace the scope made, by exact name
//   const node = await net.netns("node");       // { name, path: "/run/netns/<name>" }, lo is up
//   const pod = await net.netns("pod");
//   await net.veth(node, "m0", node, "m0p");    // a veth pair created inside the namespaces, both ends up
//   await links(pod) / addrs(pod) / routes(pod, 6)  // `ip -j [-d] -n NS link|addr|route`, parsed
//   await link(pod, "net1")                     // one link (with -d details), or undefined
//   await execIn(node, ["sysctl", "-n", "net.ipv4.ip_forward"])  // stdout of a command run inside
//   await readSysctl(pod, "net/ipv4/conf/net1/arp_notify")
//   wrapInNetns(node)                           // argv => ["ip","netns","exec",node,...argv]: for
//                                               // createRuntime({ wrap }) so plugins run inside "node"
//   await runCommand(["ip", "netns", "list"])   // any command, stdout; throws with stderr on failure
//   shortName("veth")                           // a link name <= 15 bytes unique to this run
//
// Deleting a namespace destroys the links in it (veths, bridges, macvlans, ifbs), so cleanup by
// namespace is complete. Addresses used in tests: 198.18.0.0/15 and fd00::/8 only.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { z } from "zod";

const execFileAsync = promisify(execFile);

/** A per-process prefix: names from two runs (or two files of one run) never collide. */
export const runPrefix = `px${process.pid.toString(36)}${randomBytes(2).toString("hex")}`;

export interface Netns {
  readonly name: string;
  /** The bind mount to hand to CNI_NETNS or nsenter --net=. */
  readonly path: string;
}

/** Runs a command (no shell); resolves to stdout, rejects with the command line and stderr. */
export async function runCommand(argv: readonly string[], timeoutMs = 30_000): Promise<string> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("runCommand: empty command line");
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${argv.join(" ")} failed: ${(e.stderr ?? "").trim() || e.message}`, { cause: err });
  }
}

/** A link name unique to this run, at most 15 bytes (IFNAMSIZ). */
export function shortName(tag: string): string {
  return `${tag.slice(0, 7)}${randomBytes(4).toString("hex")}`.slice(0, 15);
}

export async function createNetns(name: string): Promise<Netns> {
  await runCommand(["ip", "netns", "add", name]);
  await runCommand(["ip", "-n", name, "link", "set", "lo", "up"]);
  return { name, path: `/run/netns/${name}` };
}

/** Deletes a namespace by exact name; a missing one is fine (cleanup may run twice). */
export async function deleteNetns(name: string): Promise<void> {
  if (!(await listNetns()).includes(name)) return;
  await runCommand(["ip", "netns", "delete", name]);
}

export async function listNetns(): Promise<string[]> {
  const out = await runCommand(["ip", "-j", "netns", "list"]);
  const parsed = z.array(z.looseObject({ name: z.string() })).parse(out.trim() === "" ? [] : JSON.parse(out));
  return parsed.map((n) => n.name);
}

export interface NetScope {
  readonly prefix: string;
  /** Creates "<prefix>-<tag>" (lo up) and remembers it for cleanup. */
  netns(tag: string): Promise<Netns>;
  /** A veth pair `a`@nsA <-> `b`@nsB, created inside the namespaces, both ends up. */
  veth(nsA: Netns, a: string, nsB: Netns, b: string): Promise<void>;
  /** Deletes every namespace this scope created; runs all deletions even if one fails. */
  cleanup(): Promise<void>;
}

export function createNetScope(tag: string): NetScope {
  const prefix = `${runPrefix}-${tag}`;
  const created: string[] = [];
  return {
    prefix,
    async netns(nsTag) {
      const name = `${prefix}-${nsTag}`;
      created.push(name);
      return createNetns(name);
    },
    async veth(nsA, a, nsB, b) {
      await runCommand(["ip", "-n", nsA.name, "link", "add", a, "type", "veth", "peer", "name", b, "netns", nsB.name]);
      await runCommand(["ip", "-n", nsA.name, "link", "set", a, "up"]);
      await runCommand(["ip", "-n", nsB.name, "link", "set", b, "up"]);
    },
    async cleanup() {
      const results = await Promise.allSettled(
        created
          .splice(0)
          .reverse()
          .map((n) => deleteNetns(n)),
      );
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed.length > 0)
        throw new AggregateError(
          failed.map((f) => f.reason as unknown),
          "netns cleanup failed",
        );
    },
  };
}

const LinkSchema = z.looseObject({
  ifname: z.string(),
  link_type: z.string().optional(),
  address: z.string().optional(),
  operstate: z.string().optional(),
  flags: z.array(z.string()).optional(),
  mtu: z.number().optional(),
  master: z.string().optional(),
  linkinfo: z.looseObject({ info_kind: z.string().optional() }).optional(),
});
export type IpLink = z.infer<typeof LinkSchema>;

const AddrSchema = LinkSchema.extend({
  addr_info: z.array(
    z.looseObject({ family: z.string(), local: z.string(), prefixlen: z.number(), scope: z.string().optional() }),
  ),
});
export type IpAddr = z.infer<typeof AddrSchema>;

const RouteSchema = z.looseObject({
  dst: z.string(),
  gateway: z.string().optional(),
  dev: z.string().optional(),
  protocol: z.string().optional(),
  metric: z.number().optional(),
});
export type IpRoute = z.infer<typeof RouteSchema>;

/** `ip -j <args>` inside `ns`, parsed by `schema`. */
export async function ipJson<T>(ns: Netns, args: readonly string[], schema: z.ZodType<T>): Promise<T> {
  const out = await runCommand(["ip", "-j", "-n", ns.name, ...args]);
  return schema.parse(out.trim() === "" ? [] : JSON.parse(out));
}

export function links(ns: Netns): Promise<IpLink[]> {
  return ipJson(ns, ["-d", "link", "show"], z.array(LinkSchema));
}

export async function link(ns: Netns, name: string): Promise<IpLink | undefined> {
  return (await links(ns)).find((l) => l.ifname === name);
}

export function addrs(ns: Netns): Promise<IpAddr[]> {
  return ipJson(ns, ["addr", "show"], z.array(AddrSchema));
}

/** "198.18.0.2/24"-style addresses of one link (global scope and link-local alike). */
export async function addressesOf(ns: Netns, ifname: string): Promise<string[]> {
  const entry = (await addrs(ns)).find((a) => a.ifname === ifname);
  return (entry?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

export function routes(ns: Netns, family: 4 | 6 = 4): Promise<IpRoute[]> {
  return ipJson(ns, [`-${family}`, "route", "show"], z.array(RouteSchema));
}

/** Stdout of `argv` run inside `ns` (`ip netns exec`, which also remounts /sys for it). */
export function execIn(ns: Netns, argv: readonly string[]): Promise<string> {
  return runCommand(["ip", "netns", "exec", ns.name, ...argv]);
}

/** A sysctl of the namespace, by its /proc/sys path ("net/ipv4/ip_forward"). */
export async function readSysctl(ns: Netns, key: string): Promise<string> {
  return (await execIn(ns, ["cat", `/proc/sys/${key}`])).trim();
}

/** For createRuntime({ wrap }): run each plugin process inside `ns`, as a node would. */
export function wrapInNetns(ns: Netns): (argv: readonly string[]) => readonly string[] {
  return (argv) => ["ip", "netns", "exec", ns.name, ...argv];
}
