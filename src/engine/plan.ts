// Step 2 of ADD (docs/architecture.md#resolve): from the pod and the configuration to an ordered
// plan: [cluster network -> eth0, defaultNetworks..., selections -> net1, net2, ...].

import type { JsonObject, NetworkConfigList } from "../cni/conf.js";
import { CniError, ErrorCode, toCniError } from "../cni/error.js";
import { parseNamespace, type IfName } from "../cni/ids.js";
import type { AttachmentRole } from "../cache/record.js";
import type { KubeClient, Pod, PodRef } from "../k8s/port.js";
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION } from "../networks/annotations.js";
import {
  argsOnlyRequests,
  capabilityArgsFor,
  injectCniArgs,
  selectionCniArgs,
  type ArgsOnlyRequests,
} from "../networks/delegate-config.js";
import { cniDeviceInfoPath, dpDeviceInfoPath } from "../networks/device-info.js";
import { assignInterfaceNames } from "../networks/interface-names.js";
import { assignResourceDevices } from "../networks/resource-devices.js";
import { checkNamespaceIsolation, isSystemNamespace } from "../networks/isolation.js";
import {
  parseDefaultNetworkSelection,
  parseNetworkSelections,
  type NetworkSelection,
  type SelectionWarning,
} from "../networks/selection.js";
import type { EngineDeps, ContainerRequest } from "./deps.js";
import {
  fromNad,
  getNad,
  resolveAuxiliaryChain,
  resolveConfiguredNetwork,
  resolveInlineDelegate,
  type ResolvedNetwork,
} from "./networks.js";
import { describePod, fetchPod, podRefFromArgs } from "./pod.js";

export interface PlannedAttachment {
  readonly index: number;
  readonly role: AttachmentRole;
  readonly networkRef: string;
  readonly ifName: IfName;
  readonly list: NetworkConfigList;
  readonly capabilityArgs: Readonly<Record<string, unknown>>;
  /** CNI_ARGS of this attachment on top of the pod's (the selection's MAC= and IP=). */
  readonly cniArgs: readonly (readonly [string, string])[];
  /** ips/mac that only CNI_ARGS carry: the ADD result must show them. */
  readonly argsOnly?: ArgsOnlyRequests;
  readonly defaultRoute?: readonly string[];
  /** The per-attachment device-info file (CNIDeviceInfoFile) and the device plugin's file to seed it. */
  readonly deviceInfo?: { readonly file: string; readonly seed?: string };
}

export interface Plan {
  readonly pod: PodRef | undefined;
  /** False when the API did not know the pod: only configured networks are in the plan. */
  readonly podFound: boolean;
  readonly attachments: readonly PlannedAttachment[];
  /** What the pod's annotations ask for that was accepted but not applied as written. */
  readonly warnings: readonly SelectionWarning[];
}

interface Entry {
  readonly role: AttachmentRole;
  readonly network: ResolvedNetwork;
  readonly selection?: NetworkSelection;
}

export interface PlanOptions {
  /**
   * For DEL without a cache: a selection whose NAD is gone, or an annotation that no longer
   * parses, is skipped with a warning instead of failing (there is nothing to tear down for it).
   */
  readonly lenient?: boolean;
  /**
   * For DEL when the pod cannot be read (the API is down): the networks the configuration names
   * (cluster and default networks), without the pod and its annotations. What DEL can tear down
   * before it reports that the rest could not be known.
   */
  readonly configOnly?: boolean;
}

export async function resolvePlan(req: ContainerRequest, deps: EngineDeps, options: PlanOptions = {}): Promise<Plan> {
  const ref = podRefFromArgs(req.env.args);
  const kube = ref && !options.configOnly ? await deps.kube() : undefined;
  const pod =
    kube && ref ? await fetchPod(kube, ref, deps, { uidMismatch: options.lenient ? "absent" : "error" }) : undefined;
  const warnings: SelectionWarning[] = [];
  const entries = [
    await clusterEntry(req, deps, { pod, ref, warnings }, options),
    ...(await defaultEntries(req, deps, ref)),
    ...(await selectedEntries(req, deps, { pod, ref, warnings }, options)),
    ...(await auxiliaryEntries(req, deps, options)),
  ];
  const primary = req.env.ifName;
  const named = assignInterfaceNames(entries, (e) => e.selection?.interface, primary, {
    pod: describePod(ref),
    labels: entries.map((e) => `network "${e.network.networkRef}"`),
  });
  const devices = await resourceDevices(named, ref, deps, options);
  const attachments = named.map(({ attachment, ifName }, index) =>
    planAttachment(attachment, { index, ifName, deviceId: devices[index] }, req, describePod(ref)),
  );
  return { pod: ref, podFound: pod !== undefined, attachments, warnings };
}

/**
 * One selection of a running pod, planned exactly as ADD plans it (capabilities, cni-args,
 * MAC=/IP=, device-info), at a position and under a name the hot-plug chose
 * (docs/architecture.md#hot-plug).
 */
export function planSelection(
  selection: NetworkSelection,
  network: ResolvedNetwork,
  at: { index: number; ifName: IfName },
  req: ContainerRequest,
): PlannedAttachment {
  const pod = describePod(podRefFromArgs(req.env.args));
  // The kubelet's devices are not consulted here: a hot-plugged selection gets its own deviceID.
  return planAttachment({ role: "selected", network, selection }, { ...at, deviceId: selection.deviceId }, req, pod);
}

/**
 * The device of each attachment: for NADs with a resourceName, the kubelet's allocation to the
 * pod (one pod-resources call per ADD, only when such a NAD is in the plan), dealt out in plan
 * order; else the selection's deviceID. A DEL re-resolving never fails over devices: it tears
 * down with what it can learn.
 */
async function resourceDevices(
  named: readonly { readonly attachment: Entry; readonly ifName: IfName }[],
  ref: PodRef | undefined,
  deps: EngineDeps,
  options: PlanOptions,
): Promise<readonly (string | undefined)[]> {
  const requests = named.map(({ attachment: e, ifName }) => ({
    ...(e.network.resourceName ? { resourceName: e.network.resourceName } : {}),
    ...(e.selection?.deviceId ? { selectionDeviceId: e.selection.deviceId } : {}),
    label: `network "${e.network.networkRef}" (${ifName})`,
  }));
  const needing = requests.filter((r) => r.resourceName !== undefined);
  const first = needing[0];
  if (first === undefined || ref === undefined) return assignResourceDevices(requests, undefined).devices;
  const pod = describePod(ref);
  let allocated: ReadonlyMap<string, readonly string[]> | undefined;
  try {
    const source = await deps.podResources();
    allocated = await source.podDevices(ref, deps.signal);
    deps.log.debug({ devices: Object.fromEntries(allocated) }, "devices the kubelet allocated to the pod");
  } catch (err) {
    // Without the kubelet, selections that name their device still can be set up (Multus).
    if (!options.lenient && !needing.every((r) => r.selectionDeviceId !== undefined)) {
      throw toCniError(err).withContext(
        `pod ${pod}: ${first.label} needs a device of resource ${JSON.stringify(first.resourceName)} ` +
          `(k8s.v1.cni.cncf.io/resourceName)`,
      );
    }
    deps.log.warn({ pod, reason: (err as Error).message }, "kubelet devices unknown: using the selections' deviceIDs");
  }
  const { devices, shortages } = assignResourceDevices(requests, allocated);
  if (shortages.length > 0) {
    if (!options.lenient) throw new CniError(ErrorCode.InvalidNetworkConfig, `pod ${pod}: ${shortages.join("; ")}`);
    deps.log.warn({ pod, shortages }, "fewer kubelet devices than attachments");
  }
  return devices;
}

function planAttachment(
  e: Entry,
  at: { index: number; ifName: IfName; deviceId: string | undefined },
  req: ContainerRequest,
  pod: string,
): PlannedAttachment {
  const { index, ifName } = at;
  const sel = e.selection;
  const network = e.network.networkRef;
  const device = at.deviceId ? deviceOf(e, at.deviceId, req, ifName) : undefined;
  const withArgs = injectCniArgs(e.network.list, selectionArgs(sel), { pod, network });
  const list = device ? injectDeviceId(withArgs, device.deviceId) : withArgs;
  // deviceID and CNIDeviceInfoFile reach only the plugins declaring them (libcni's capability
  // filter), as in Multus.
  const deviceArgs = device
    ? { deviceId: device.deviceId, ...(device.info ? { deviceInfoFile: device.info.file } : {}) }
    : {};
  // Capability values from Kubernetes (portMappings, bandwidth, ...) belong to the cluster
  // network only (multi-net spec §7.5); a selection brings its own, gated by capabilities.
  const fromSelection = sel
    ? capabilityArgsFor(sel, list, { pod, network }, deviceArgs)
    : {
        ...(device ? { deviceID: device.deviceId } : {}),
        ...(device?.info ? { CNIDeviceInfoFile: device.info.file } : {}),
      };
  const capabilityArgs = e.role === "cluster" ? { ...req.conf.runtimeConfig, ...fromSelection } : fromSelection;
  const argsOnly = sel ? argsOnlyRequests(sel, list) : undefined;
  return {
    index,
    role: e.role,
    networkRef: network,
    ifName,
    list,
    capabilityArgs,
    cniArgs: sel ? selectionCniArgs(sel) : [],
    ...(argsOnly ? { argsOnly } : {}),
    ...(sel?.defaultRoute !== undefined ? { defaultRoute: sel.defaultRoute } : {}),
    ...(device?.info ? { deviceInfo: device.info } : {}),
  };
}

/**
 * The attachment's device (the kubelet's, else the selection's deviceID) and its device-info
 * file: per attachment, seeded from the device plugin's file when the NAD has a resourceName
 * (Device Information Specification §4.1, §4.2: the implementation copies it, whatever the
 * plugins declare, as Multus does), or offered empty to a plugin declaring CNIDeviceInfoFile;
 * read into network-status device-info after ADD, removed on DEL.
 */
function deviceOf(
  e: Entry,
  deviceId: string,
  req: ContainerRequest,
  ifName: IfName,
): { deviceId: string; info?: { file: string; seed?: string } } {
  const wantsFile = e.network.list.plugins.some((p) => p.capabilities.includes("CNIDeviceInfoFile"));
  if (!wantsFile && !e.network.resourceName) return { deviceId };
  const root = req.conf.deviceInfoDir;
  const file = cniDeviceInfoPath(e.network.networkRef, req.env.containerId, ifName, root);
  const seed = e.network.resourceName ? dpDeviceInfoPath(e.network.resourceName, deviceId, root) : undefined;
  return { deviceId, info: { file, ...(seed ? { seed } : {}) } };
}

/** Multus writes the device into every plugin's config too (`deviceID`, `pciBusID`): SR-IOV CNI reads it there. */
function injectDeviceId(list: NetworkConfigList, deviceId: string): NetworkConfigList {
  const plugins = list.plugins.map((p) => ({ ...p, raw: { ...p.raw, deviceID: deviceId, pciBusID: deviceId } }));
  return { ...list, plugins, raw: { ...list.raw, plugins: plugins.map((p) => p.raw) } };
}

/**
 * args.cni for the delegates: the selection's cni-args, plus its ipam-claim-reference (multi-net
 * spec v1.3 leaves open how the claim reaches the IPAM plugin; args.cni is CNI's place for
 * such metadata, CONVENTIONS.md).
 */
function selectionArgs(sel: NetworkSelection | undefined): JsonObject {
  if (!sel) return {};
  return {
    ...(sel.cniArgs ?? {}),
    ...(sel.ipamClaimReference ? { "ipam-claim-reference": sel.ipamClaimReference } : {}),
  };
}

/** The pod as the API has it, and where its annotations' warnings are collected. */
interface PodContext {
  readonly pod: Pod | undefined;
  readonly ref: PodRef | undefined;
  readonly warnings: SelectionWarning[];
}

async function clusterEntry(
  req: ContainerRequest,
  deps: EngineDeps,
  at: PodContext,
  options: PlanOptions,
): Promise<Entry> {
  const { conf } = req;
  const { pod, ref } = at;
  const override = pod?.metadata.annotations?.[DEFAULT_NETWORK_ANNOTATION];
  if (pod && override !== undefined && ref) {
    // v1.multus-cni.io/default-network replaces the cluster network for this pod (NAD only).
    const { selection: sel, warnings } = parseDefaultNetworkSelection(override, {
      defaultNamespace: parseNamespace(conf.multusNamespace),
      pod: describePod(ref),
      strict: conf.strictSelections && !options.lenient,
    });
    at.warnings.push(...warnings);
    // The annotation is the pod author's choice, not the administrator's: under namespaceIsolation
    // it may name the pod's namespace, a global one, or multusNamespace (where cluster networks
    // live). Multus does not check it at all, so any pod could take any team's NAD as its eth0.
    // Tearing down (lenient) is no privilege: a DEL must not fail on a policy changed since ADD.
    const policy = {
      namespaceIsolation: conf.namespaceIsolation,
      globalNamespaces: [...conf.globalNamespaces, conf.multusNamespace],
    };
    if (!options.lenient)
      checkNamespaceIsolation(sel, ref.namespace, policy, {
        pod: describePod(ref),
        annotation: DEFAULT_NETWORK_ANNOTATION,
      });
    const kube = (await deps.kube())!;
    const nad = await getNad(kube, sel.namespace, sel.name, deps, describePod(ref));
    return { role: "cluster", network: await fromNad(nad, conf, deps, describePod(ref)), selection: { ...sel } };
  }
  if (conf.clusterNetwork) {
    return {
      role: "cluster",
      network: await resolveConfiguredNetwork(conf.clusterNetwork, conf, deps, describePod(ref)),
    };
  }
  return { role: "cluster", network: resolveInlineDelegate(conf.delegates[0] ?? {}, 0) };
}

async function defaultEntries(req: ContainerRequest, deps: EngineDeps, ref: PodRef | undefined): Promise<Entry[]> {
  const { conf } = req;
  if (ref && isSystemNamespace(ref.namespace, conf.systemNamespaces)) return [];
  const inline = conf.clusterNetwork ? [] : conf.delegates.slice(1).map((d, i) => resolveInlineDelegate(d, i + 1));
  const named = await Promise.all(
    conf.defaultNetworks.map((n) => resolveConfiguredNetwork(n, conf, deps, describePod(ref))),
  );
  return [...inline, ...named].map((network) => ({ role: "default", network }));
}

/**
 * auxiliaryCNIChainName: one more attachment, last, on net<i> like any other (Multus). A DEL
 * re-resolving tears down what it can find and does not fail on a broken chain config.
 */
async function auxiliaryEntries(req: ContainerRequest, deps: EngineDeps, options: PlanOptions): Promise<Entry[]> {
  try {
    const network = await resolveAuxiliaryChain(req.conf, deps);
    return network ? [{ role: "auxiliary", network }] : [];
  } catch (err) {
    if (!options.lenient) throw err;
    deps.log.warn({ reason: (err as Error).message }, "ignoring the auxiliary chain");
    return [];
  }
}

async function selectedEntries(
  req: ContainerRequest,
  deps: EngineDeps,
  at: PodContext,
  options: PlanOptions,
): Promise<Entry[]> {
  const { pod, ref } = at;
  const value = pod?.metadata.annotations?.[NETWORKS_ANNOTATION];
  if (!pod || !ref || value === undefined || value.trim() === "") return [];
  const podName = describePod(ref);
  let selections: readonly NetworkSelection[];
  try {
    const parsed = parseNetworkSelections(value, {
      podNamespace: ref.namespace,
      pod: podName,
      strict: req.conf.strictSelections && !options.lenient,
    });
    selections = parsed.selections;
    at.warnings.push(...parsed.warnings);
    // As for the default network: a DEL re-resolving tears down whatever the pod names.
    if (!options.lenient)
      for (const sel of selections) checkNamespaceIsolation(sel, ref.namespace, req.conf, { pod: podName });
  } catch (err) {
    if (!options.lenient) throw err;
    deps.log.warn({ reason: (err as Error).message }, "ignoring the pod's network selections");
    return [];
  }
  const kube = (await deps.kube()) as KubeClient;
  // NADs are fetched concurrently (Multus fetches one after another); the first failure in
  // annotation order is the one reported.
  const settled = await Promise.allSettled(
    selections.map(async (sel) =>
      fromNad(await getNad(kube, sel.namespace, sel.name, deps, podName), req.conf, deps, podName),
    ),
  );
  const entries: Entry[] = [];
  settled.forEach((s, i) => {
    const selection = selections[i] as NetworkSelection;
    if (s.status === "fulfilled") entries.push({ role: "selected", network: s.value, selection });
    else if (options.lenient && s.reason instanceof CniError && s.reason.code === ErrorCode.NotFound) {
      deps.log.warn(
        { network: `${selection.namespace}/${selection.name}` },
        "network gone: nothing to tear down for it",
      );
    } else throw s.reason;
  });
  return entries;
}
