// Where a delegate's configuration comes from: a NetworkAttachmentDefinition's spec.config, a
// file in confDir whose CNI name matches (multi-net spec §3.4), or a path given as
// clusterNetwork. Every config is size- and depth-bounded, and checked for the two values that
// become file names (the network name names cache files; plugin types name binaries).

import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseNetworkConfig, type JsonObject, type NetworkConfigList } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { isValidNetworkName } from "../cni/ids.js";
import type { NetworkAttachmentDefinition } from "../k8s/port.js";
import { parseBoundedJson } from "./bounded-json.js";

/** Config files and NAD configs larger than this are refused (real ones are a few KiB). */
export const MAX_CONF_BYTES = 1024 * 1024;
/** Deepest JSON nesting in a delegate config; plugin configs nest 5-6 levels. */
export const MAX_CONF_JSON_DEPTH = 64;
export const CONF_EXTENSIONS = [".conf", ".conflist", ".json"] as const;
/** Plexus's own file in the runtime's conf dir: never a delegate of itself. */
export const OWN_CONF_PREFIX = "00-plexus";

export interface ConfDirReader {
  /** Names (not paths) of the regular files in `dir`, any order; a missing dir has none. */
  list(dir: string): Promise<readonly string[]>;
  /** The text of a file; ErrorCode.NotFound when it does not exist. */
  read(path: string): Promise<string>;
  /** What is at `path`. Without it, a path with a config extension is taken as a file. */
  kind?(path: string): Promise<"file" | "directory" | "missing">;
}

export interface ConfDir {
  readonly dir: string;
  readonly reader: ConfDirReader;
}

/**
 * The delegate list of a NAD. spec.config (a conf or a conflist) gets the NAD's name when its
 * own is missing or "" (spec §3.4.2; top level, so a conflist's list name); foreign keys are
 * kept. No spec.config: the file in confDir named like the NAD (findConfByName).
 */
export async function delegateConfigFromNad(
  nad: NetworkAttachmentDefinition,
  confDir: ConfDir,
  ctx: { readonly pod: string },
): Promise<NetworkConfigList> {
  const where = `pod ${ctx.pod}: NetworkAttachmentDefinition ${nad.metadata.namespace}/${nad.metadata.name}`;
  const config = nad.spec?.config;
  if (config === undefined || config.trim() === "") {
    try {
      return await findConfByName(confDir.dir, nad.metadata.name, confDir.reader);
    } catch (err) {
      throw err instanceof CniError ? err.withContext(`${where} has no spec.config`) : err;
    }
  }
  const parsed = parseBoundedJson(config, { maxBytes: MAX_CONF_BYTES, maxDepth: MAX_CONF_JSON_DEPTH });
  if (!parsed.ok) invalid(`${where}: spec.config: ${parsed.problem}`);
  if (!isObject(parsed.value)) invalid(`${where}: spec.config must be a JSON object (a CNI config or config list)`);
  const name = parsed.value["name"];
  const withName = name === undefined || name === "" ? { ...parsed.value, name: nad.metadata.name } : parsed.value;
  return validateDelegateConfig(withName, `${where}: spec.config`);
}

/**
 * The CNI config in `dir` whose `name` is `name`: .conflist files first, then .conf/.json,
 * each group in lexical order (spec §3.4.1 puts lists first; the NAD client walks all files in
 * one lexical pass). The kind of config is read from its content. A file that cannot be read or
 * parsed is skipped, not fatal (Multus aborts the search on any broken file); the NotFound
 * error lists what was skipped. A match that is not a valid config is an error of its own.
 */
export async function findConfByName(dir: string, name: string, reader: ConfDirReader): Promise<NetworkConfigList> {
  const files = sortedConfFiles(await reader.list(dir));
  const ordered = [...files.filter((f) => f.endsWith(".conflist")), ...files.filter((f) => !f.endsWith(".conflist"))];
  const skipped: string[] = [];
  for (const file of ordered) {
    const path = join(dir, file);
    let value: unknown;
    try {
      const parsed = parseBoundedJson(await reader.read(path), {
        maxBytes: MAX_CONF_BYTES,
        maxDepth: MAX_CONF_JSON_DEPTH,
      });
      if (!parsed.ok) throw new Error(parsed.problem);
      value = parsed.value;
    } catch (err) {
      skipped.push(`${file} (${err instanceof CniError ? err.msg : (err as Error).message})`);
      continue;
    }
    if (isObject(value) && value["name"] === name) return validateDelegateConfig(value, path);
  }
  const why = skipped.length > 0 ? `; skipped unreadable files: ${skipped.join(", ")}` : "";
  throw new CniError(ErrorCode.NotFound, `no CNI config named ${JSON.stringify(name)} in ${dir}${why}`);
}

/**
 * clusterNetwork given as a path: a conf or conflist file, or a directory whose first config
 * file in lexical order is used, as runtimes pick theirs (Plexus's own 00-plexus* skipped). That
 * file is used even if it is broken, with its error: taking the next one would attach a network
 * the runtime itself would not have chosen.
 */
export async function loadNetworkFromPath(path: string, reader: ConfDirReader): Promise<NetworkConfigList> {
  const kind = reader.kind ? await reader.kind(path) : hasConfExtension(path) ? "file" : "directory";
  if (kind === "missing") throw new CniError(ErrorCode.NotFound, `network config ${path} does not exist`);
  if (kind === "file") return loadConfFile(path, reader);
  const first = sortedConfFiles(await reader.list(path))[0];
  if (first === undefined) {
    throw new CniError(ErrorCode.NotFound, `no CNI config file (${CONF_EXTENSIONS.join(", ")}) in ${path}`);
  }
  return loadConfFile(join(path, first), reader);
}

async function loadConfFile(path: string, reader: ConfDirReader): Promise<NetworkConfigList> {
  const parsed = parseBoundedJson(await reader.read(path), { maxBytes: MAX_CONF_BYTES, maxDepth: MAX_CONF_JSON_DEPTH });
  if (!parsed.ok) invalid(`${path}: ${parsed.problem}`);
  if (!isObject(parsed.value)) invalid(`${path}: must be a JSON object (a CNI config or config list)`);
  return validateDelegateConfig(parsed.value, path);
}

/** A conf or conflist object as a list, with its name and plugin types safe to use as file names. */
export function validateDelegateConfig(raw: JsonObject, origin: string): NetworkConfigList {
  let list: NetworkConfigList;
  try {
    list = parseNetworkConfig(raw);
  } catch (err) {
    throw err instanceof CniError ? err.withContext(origin) : err;
  }
  if (!isValidNetworkName(list.name)) {
    invalid(
      `${origin}: network name ${JSON.stringify(list.name)} is invalid: it must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (it names cache files)`,
    );
  }
  list.plugins.forEach((p, i) => {
    if (p.type === "." || p.type === ".." || /[/\\\0]/.test(p.type)) {
      invalid(
        `${origin}: plugin ${i} has type ${JSON.stringify(p.type)}; a type is a plugin binary's file name, not a path`,
      );
    }
  });
  return list;
}

function sortedConfFiles(names: readonly string[]): string[] {
  return names
    .filter((n) => hasConfExtension(n) && !n.startsWith(".") && !n.startsWith(OWN_CONF_PREFIX))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function hasConfExtension(name: string): boolean {
  return CONF_EXTENSIONS.some((ext) => name.endsWith(ext));
}

function invalid(msg: string): never {
  throw new CniError(ErrorCode.InvalidNetworkConfig, msg);
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** ConfDirReader on the node's file system (symlinks followed; oversized files left out). */
export const nodeConfDirReader: ConfDirReader = {
  async list(dir) {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR")) return [];
      throw new CniError(ErrorCode.IoFailure, `cannot list ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const names = await Promise.all(
      entries.map(async (e) => {
        if (!e.isFile() && !e.isSymbolicLink()) return undefined;
        const st = await stat(join(dir, e.name)).catch(() => undefined);
        return st?.isFile() && st.size <= MAX_CONF_BYTES ? e.name : undefined;
      }),
    );
    return names.filter((n): n is string => n !== undefined);
  },

  async read(path) {
    let handle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      if (isCode(err, "ENOENT")) throw new CniError(ErrorCode.NotFound, `${path} does not exist`, { cause: err });
      throw new CniError(ErrorCode.IoFailure, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new CniError(ErrorCode.IoFailure, `${path} is not a regular file`);
      if (st.size > MAX_CONF_BYTES)
        throw new CniError(ErrorCode.IoFailure, `${path} is larger than ${MAX_CONF_BYTES} bytes`);
      return await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  },

  async kind(path) {
    try {
      const st = await stat(path);
      return st.isDirectory() ? "directory" : "file";
    } catch (err) {
      if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR")) return "missing";
      throw new CniError(ErrorCode.IoFailure, `cannot stat ${path}: ${(err as Error).message}`, { cause: err });
    }
  },
};

function isCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}
