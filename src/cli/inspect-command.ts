// `plexus inspect`: what Plexus knows on this node, from its cache, for an operator whose pod is
// stuck: each container, its pod, every attachment with its delegates, IPs, state and age, and
// the files Plexus could not read.

import { parseArgs } from "node:util";
import { createCacheStore, type ContainerState } from "../cache/store.js";
import { addressIp } from "../cni/ip.js";

export const INSPECT_USAGE = `Usage: plexus inspect [flags]

Flags:
  --state-dir DIR   Plexus's cache (the cniDir of its config; default /var/lib/cni/plexus)
  --pod NS/NAME     only this pod
  --json            machine-readable output
  -h, --help        this text
`;

interface Row {
  readonly containerId: string;
  readonly pod: string;
  readonly ifName: string;
  readonly network: string;
  readonly delegates: string;
  readonly ips: string;
  readonly state: string;
  readonly age: string;
}

export async function runInspect(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      "state-dir": { type: "string", default: "/var/lib/cni/plexus" },
      pod: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(INSPECT_USAGE);
    return 0;
  }
  const store = createCacheStore(values["state-dir"] as string);
  const containers: { id: string; state: ContainerState }[] = [];
  for (const id of await store.listContainers()) containers.push({ id, state: await store.loadContainer(id) });
  const now = Date.now();
  const rows = containers
    .flatMap(({ id, state }) => rowsOf(id, state, now))
    .filter((r) => !values.pod || r.pod === values.pod);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify(
        containers.map(({ id, state }) => ({ containerId: id, ...state })),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write(`no attachments in ${values["state-dir"]}\n`);
    return 0;
  }
  process.stdout.write(table(rows));
  return 0;
}

function rowsOf(id: string, state: ContainerState, now: number): Row[] {
  const rows: Row[] = state.attachments.map((r) => ({
    containerId: id.slice(0, 12),
    pod: r.pod ? `${r.pod.namespace}/${r.pod.name}` : "-",
    ifName: r.ifName,
    network: r.networkRef,
    delegates: ((r.config["plugins"] as { type?: string }[] | undefined) ?? [r.config])
      .map((p) => p.type ?? "?")
      .join("+"),
    ips:
      ((r.result?.["ips"] as { address: string }[] | undefined) ?? []).map((ip) => addressIp(ip.address)).join(",") ||
      "-",
    state: r.state,
    age: age(now - Date.parse(r.createdAt)),
  }));
  for (const c of state.corrupt)
    rows.push({
      containerId: id.slice(0, 12),
      pod: "?",
      ifName: "?",
      network: "?",
      delegates: "?",
      ips: "-",
      state: `UNREADABLE ${c.path}: ${c.reason.split("\n")[0]}`,
      age: "-",
    });
  if (state.attachments.length === 0 && state.tombstone) {
    rows.push({
      containerId: id.slice(0, 12),
      pod: "-",
      ifName: "-",
      network: "-",
      delegates: "-",
      ips: "-",
      state: state.tombstone.reason,
      age: age(now - Date.parse(state.tombstone.at)),
    });
  }
  return rows;
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function table(rows: readonly Row[]): string {
  const head: Row = {
    containerId: "CONTAINER",
    pod: "POD",
    ifName: "IF",
    network: "NETWORK",
    delegates: "DELEGATES",
    ips: "IPS",
    state: "STATE",
    age: "AGE",
  };
  const keys = Object.keys(head) as (keyof Row)[];
  const widths = keys.map((k) => Math.max(...[head, ...rows].map((r) => r[k].length)));
  return (
    [head, ...rows]
      .map((r) =>
        keys
          .map((k, i) => r[k].padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
