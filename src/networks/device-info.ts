// Device Information Specification 1.1.0 (DIS §4 files, §6.1 network-status): where the
// device-plugin and per-attachment files live, and reading one into network-status `device-info`.

import { z } from "zod";
import type { JsonObject } from "../cni/conf.js";
import { CniError, ErrorCode } from "../cni/error.js";
import { parseBoundedJson } from "../cni/bounded-json.js";

const DEVICE_INFO_ROOT = "/var/run/k8s.cni.cncf.io/devinfo";

/** The file a device plugin writes: dp/<resourceName>-<deviceID>-device.json, `/` -> `-` (DIS §4.1). */
export function dpDeviceInfoPath(resourceName: string, deviceId: string, root = DEVICE_INFO_ROOT): string {
  return `${root}/dp/${flat(resourceName)}-${flat(deviceId)}-device.json`;
}

/**
 * The per-attachment file passed as CNIDeviceInfoFile: cni/<network>-<containerID>_<ifName>,
 * `/` -> `-` (Multus's naming; unique per attachment as DIS §4.2 requires). Deleted on DEL.
 */
export function cniDeviceInfoPath(
  networkRef: string,
  containerId: string,
  ifName: string,
  root = DEVICE_INFO_ROOT,
): string {
  return `${root}/cni/${flat(networkRef)}-${flat(containerId)}_${flat(ifName)}`;
}

function flat(v: string): string {
  return v.replaceAll("/", "-").replaceAll("\0", "");
}

const loose = <T extends z.ZodRawShape>(shape: T) => z.looseObject(shape);
const DeviceInfoSchema = z.discriminatedUnion("type", [
  loose({ type: z.literal("pci"), version: z.string(), pci: loose({ "pci-address": z.string() }) }),
  loose({
    type: z.literal("vdpa"),
    version: z.string(),
    vdpa: loose({ "parent-device": z.string(), driver: z.enum(["vhost", "virtio"]), path: z.string() }),
  }),
  loose({
    type: z.literal("vhost-user"),
    version: z.string(),
    "vhost-user": loose({ mode: z.enum(["client", "server"]), path: z.string() }),
  }),
  loose({
    type: z.literal("memif"),
    version: z.string(),
    memif: loose({ role: z.string(), path: z.string(), mode: z.string() }),
  }),
]);

/**
 * A device-info file's content, checked for the keys DIS §3.1 requires (type, version, and the
 * map of that type); other keys are kept as written. Errors are DecodingFailure naming `origin`.
 */
export function parseDeviceInfo(text: string, origin: string): JsonObject {
  const parsed = parseBoundedJson(text, { maxBytes: 64 * 1024, maxDepth: 8 });
  if (!parsed.ok) throw new CniError(ErrorCode.DecodingFailure, `device info ${origin}: ${parsed.problem}`);
  const result = DeviceInfoSchema.safeParse(parsed.value);
  if (!result.success) {
    throw new CniError(ErrorCode.DecodingFailure, `device info ${origin} is not valid`, {
      details: z.prettifyError(result.error),
    });
  }
  return parsed.value as JsonObject;
}
