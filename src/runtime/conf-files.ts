// The node's CNI configuration directories, as libcni's conf.go reads them: which files are
// configs (extensions, size limit), the order a runtime loads them in, finding a config by its
// network name, and loading the network a path names. The one module that reads conf files;
// everything else gets a ConfDirReader (the engine through EngineDeps) or the names it lists.

import { open, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { JsonObject, NetworkConfigList } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { isValidNetworkName } from "../cni/ids.js";
import { isJsonObject, MAX_CONF_BYTES, parseConfJson, validateDelegateConfig } from "../cni/untrusted-conf.js";

/** What containerd (go-cni) and CRI-O (ocicni) pass to libcni's ConfFiles. */
const CONF_EXTENSIONS = [".conf", ".conflist", ".json"] as const;
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

/**
 * The names a runtime would load from `names`, in the order it loads them: the config
 * extensions, sorted as Go's sort.Strings sorts (byte by byte, UTF-8), which is what containerd
 * (go-cni loadFromConfDir) and CRI-O (ocicni loadNetworks) do with libcni.ConfFiles' list. The
 * first is the runtime's network. JavaScript's default sort compares UTF-16 units, which differs
 * from bytes above U+FFFF.
 */
export function runtimeConfFiles(names: readonly string[]): string[] {
  return names.filter(hasConfExtension).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * Where a primary or a delegate config may be: what the runtime would load, in its order, minus
 * Plexus's own file (it sorts first, and is never a delegate of itself) and hidden files (temp
 * files of editors and installers).
 */
export function candidateConfFiles(names: readonly string[]): string[] {
  return runtimeConfFiles(names).filter((n) => !n.startsWith(".") && !n.startsWith(OWN_CONF_PREFIX));
}

/**
 * The CNI config in `dir` whose `name` is `name`: .conflist files first, then .conf/.json,
 * each group in the runtime's order (spec §3.4.1 puts lists first; the NAD client walks all
 * files in one lexical pass). The kind of config is read from its content. A file that cannot be
 * read or parsed is skipped, not fatal (Multus aborts the search on any broken file); the
 * NotFound error lists what was skipped. A match that is not a valid config is an error of its own.
 */
export async function findConfByName(dir: string, name: string, reader: ConfDirReader): Promise<NetworkConfigList> {
  const files = candidateConfFiles(await reader.list(dir));
  const ordered = [...files.filter((f) => f.endsWith(".conflist")), ...files.filter((f) => !f.endsWith(".conflist"))];
  const skipped: string[] = [];
  for (const file of ordered) {
    const path = join(dir, file);
    let value: unknown;
    try {
      const parsed = parseConfJson(await reader.read(path));
      if (!parsed.ok) throw new Error(parsed.problem);
      value = parsed.value;
    } catch (err) {
      skipped.push(`${file} (${err instanceof CniError ? err.msg : (err as Error).message})`);
      continue;
    }
    if (isJsonObject(value) && value["name"] === name) return validateDelegateConfig(value, path);
  }
  const why = skipped.length > 0 ? `; skipped unreadable files: ${skipped.join(", ")}` : "";
  throw new CniError(ErrorCode.NotFound, `no CNI config named ${JSON.stringify(name)} in ${dir}${why}`);
}

/**
 * clusterNetwork given as a path: a conf or conflist file, or a directory whose first config
 * file in the runtime's order is used, as runtimes pick theirs (Plexus's own 00-plexus* skipped).
 * That file is used even if it is broken, with its error: taking the next one would attach a
 * network the runtime itself would not have chosen.
 */
export async function loadNetworkFromPath(path: string, reader: ConfDirReader): Promise<NetworkConfigList> {
  const kind = reader.kind ? await reader.kind(path) : hasConfExtension(path) ? "file" : "directory";
  if (kind === "missing") throw new CniError(ErrorCode.NotFound, `network config ${path} does not exist`);
  if (kind === "file") return loadConfFile(path, reader);
  const first = candidateConfFiles(await reader.list(path))[0];
  if (first === undefined) {
    throw new CniError(ErrorCode.NotFound, `no CNI config file (${CONF_EXTENSIONS.join(", ")}) in ${path}`);
  }
  return loadConfFile(join(path, first), reader);
}

async function loadConfFile(path: string, reader: ConfDirReader): Promise<NetworkConfigList> {
  const parsed = parseConfJson(await reader.read(path));
  if (!parsed.ok) invalid(`${path}: ${parsed.problem}`);
  if (!isJsonObject(parsed.value)) invalid(`${path}: must be a JSON object (a CNI config or config list)`);
  return validateDelegateConfig(await withChainedPlugins(parsed.value, path, reader), path);
}

/**
 * libcni's sub-directory chaining (NetworkConfFromFile, CNI SPEC 1.1 §1 loadOnlyInlinedPlugins),
 * which Multus gets for a clusterNetwork `.conflist` path: the plugin confs in
 * `<dir>/<list name>/*.conf` are appended to the list's own plugins, unless the list sets
 * loadOnlyInlinedPlugins. A list may then have no `plugins` of its own.
 */
async function withChainedPlugins(list: JsonObject, path: string, reader: ConfDirReader): Promise<JsonObject> {
  const name = list["name"];
  const only = list["loadOnlyInlinedPlugins"];
  if (!path.endsWith(".conflist") || typeof name !== "string" || !isValidNetworkName(name)) return list;
  if (only === true || (typeof only === "string" && only.toLowerCase() === "true")) return list;
  const chained = await loadChainedPluginConfs(join(dirname(path), name), reader);
  if (chained.length === 0) return list;
  const inline = Array.isArray(list["plugins"]) ? list["plugins"] : [];
  return { ...list, plugins: [...inline, ...chained] };
}

/**
 * The plugin configurations chained from `<dir>/<chain>/*.conf`, in the order Go's ReadDir lists
 * them (libcni NetworkPluginConfsFromFiles, which Multus uses for auxiliaryCNIChainName): each
 * file one plugin object with a `type`. A missing directory has none; a broken file is an error
 * naming it (libcni's behaviour: a chain silently missing a plugin is worse than no pod).
 */
export async function loadChainedPluginConfs(dir: string, reader: ConfDirReader): Promise<JsonObject[]> {
  const files = (await reader.list(dir))
    .filter((n) => n.endsWith(".conf"))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const plugins: JsonObject[] = [];
  for (const file of files) {
    const path = join(dir, file);
    const parsed = parseConfJson(await reader.read(path));
    if (!parsed.ok) invalid(`${path}: ${parsed.problem}`);
    const value = parsed.value;
    if (!isJsonObject(value)) invalid(`${path}: must be a JSON object (one plugin configuration)`);
    if (typeof value["type"] !== "string" || value["type"] === "") {
      invalid(`${path}: error parsing configuration: missing 'type'`);
    }
    plugins.push(value);
  }
  return plugins;
}

function hasConfExtension(name: string): boolean {
  return CONF_EXTENSIONS.some((ext) => name.endsWith(ext));
}

function invalid(msg: string): never {
  throw new CniError(ErrorCode.InvalidNetworkConfig, msg);
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
