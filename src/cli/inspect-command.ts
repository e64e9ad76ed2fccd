// `plexus inspect`: what Plexus knows on this node, from its cache, for an operator whose pod is
// stuck: each container, its pod, every attachment with its delegates, IPs, state and age, and
// the files Plexus could not read.

import { stat } from "node:fs/promises";
import { createCacheStore, type ContainerState } from "../cache/store.js";
import { addressIp } from "../cni/ip.js";
import { nonEmptyValue, parseCommandLine, UsageError, type FlagSpecs } from "./args.js";

const DEFAULT_STATE_DIR = "/var/lib/cni/plexus";

const INSPECT_USAGE = `Usage: plexus inspect [flags]

Flags:
  --state-dir DIR   Plexus's cache (the cniDir of its config; default /var/lib/cni/plexus)
  --pod NS/NAME     only this pod
  --json            machine-readable output
  -h, --help        this text

Exit codes: 0 shown, 1 the state dir cannot be read (it does not exist: Plexus has not set up a
pod with this cniDir on this node), 2 a bad flag or value.
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

const FLAGS = {
  "state-dir": { type: "string" },
  pod: { type: "string" },
  json: { type: "boolean" },
} as const satisfies FlagSpecs;

export async function runInspect(argv: readonly string[]): Promise<number> {
  const line = parseCommandLine(argv, FLAGS);
  if (line.help) {
    process.stdout.write(INSPECT_USAGE);
    return 0;
  }
  const { flags } = line;
  const stateDir = nonEmptyValue("state-dir", flags["state-dir"] ?? DEFAULT_STATE_DIR);
  if (flags.pod !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(flags.pod))
    throw new UsageError(`--pod: ${JSON.stringify(flags.pod)} is not NAMESPACE/NAME`);
  await checkStateDir(stateDir);
  const store = createCacheStore(stateDir);
  const containers: { id: string; state: ContainerState }[] = [];
  for (const id of await store.listContainers()) containers.push({ id, state: await store.loadContainer(id) });
  const now = Date.now();
  const rows = containers
    .flatMap(({ id, state }) => rowsOf(id, state, now))
    .filter((r) => !flags.pod || r.pod === flags.pod);
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify(
        containers.map(({ id, state }) => ({ containerId: id, ...state })),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  process.stdout.write(rows.length === 0 ? `no attachments in ${stateDir}\n` : table(rows));
  // Containers gone from the node are remembered only as tombstones (docs/state.md#tombstones).
  const gone = await store.listTombstones();
  const newest = gone[gone.length - 1];
  if (newest && !flags.pod) {
    process.stdout.write(
      `${gone.length} container(s) recently deleted or rolled back (tombstones), the ` +
        `newest ${age(now - Date.parse(newest.at))} ago\n`,
    );
  }
  return 0;
}

/**
 * A state dir that does not exist is an error, not "no attachments": a mistyped --state-dir (or
 * a node whose cniDir is not the default) must not look like a node without pods.
 */
async function checkStateDir(dir: string): Promise<void> {
  const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT")
      throw new Error(`--state-dir ${dir}: no such directory (Plexus's cniDir; default ${DEFAULT_STATE_DIR})`);
    throw new Error(`--state-dir ${dir}: ${err.message}`);
  });
  if (!info.isDirectory()) throw new Error(`--state-dir ${dir}: not a directory`);
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
