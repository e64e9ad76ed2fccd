// The simulated node's network namespace: everything host-side of the pods (bridges, veth
// ends, macvlan masters) lives in it, so `plexus local` never changes the machine's own
// network. It has two NICs, eth0 and eth1 (veth pairs whose peers stay in the namespace), up,
// to serve as masters for macvlan/ipvlan attachments as a real node's would.

import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

const NODE_NICS = ["eth0", "eth1"] as const;

export async function createNodeNetns(name: string): Promise<string> {
  await deleteNodeNetns(name);
  await run("ip", ["netns", "add", name]);
  await run("ip", ["-n", name, "link", "set", "lo", "up"]);
  for (const nic of NODE_NICS) {
    await run("ip", ["-n", name, "link", "add", nic, "type", "veth", "peer", "name", `${nic}-peer`]);
    await run("ip", ["-n", name, "link", "set", nic, "up"]);
    await run("ip", ["-n", name, "link", "set", `${nic}-peer`, "up"]);
  }
  return `/run/netns/${name}`;
}

export async function deleteNodeNetns(name: string): Promise<void> {
  await run("ip", ["netns", "delete", name]).catch(() => undefined);
}

/** Namespaces left by an earlier run that was killed (same prefix), deleted by exact name. */
export async function deleteNetnsWithPrefix(prefix: string): Promise<void> {
  const { stdout } = await run("ip", ["netns", "list"]);
  for (const line of stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (name.startsWith(`${prefix}-`)) await run("ip", ["netns", "delete", name]).catch(() => undefined);
  }
}
