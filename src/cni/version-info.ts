// VERSION: what a plugin answers, and how a runtime reads a delegate's answer.
// CNI SPEC §2 VERSION; libcni pkg/version/plugin.go (PluginDecoder) and pkg/invoke/exec.go.

import { CniError, ErrorCode } from "./error.js";
import { CURRENT_VERSION, SUPPORTED_VERSIONS, isSupportedVersion } from "./version.js";

export interface VersionInfo {
  readonly cniVersion: string;
  readonly supportedVersions: readonly string[];
}

/** Plexus's own VERSION answer: skel prints the current version whatever stdin says. */
export function pluginVersionInfo(): VersionInfo {
  return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/** Reads a delegate's VERSION output (libcni pkg/version/plugin.go PluginDecoder). */
export function decodeVersionInfo(raw: unknown): VersionInfo {
  const o = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const cniVersion = o["cniVersion"];
  if (typeof cniVersion !== "string" || cniVersion === "") {
    throw new CniError(ErrorCode.DecodingFailure, "decoding version info: missing field cniVersion");
  }
  const supported = o["supportedVersions"];
  if (Array.isArray(supported) && supported.length > 0 && supported.every((v) => typeof v === "string")) {
    return { cniVersion, supportedVersions: supported as string[] };
  }
  // A 0.2.0 plugin answered without the list: it supports 0.1.0 and 0.2.0.
  if (cniVersion === "0.2.0") return { cniVersion, supportedVersions: ["0.1.0", "0.2.0"] };
  throw new CniError(ErrorCode.DecodingFailure, "decoding version info: missing field supportedVersions");
}

/**
 * The config's version must be one the plugin speaks, exactly (skel's Reconciler). A config
 * without a version is 0.1.0 (skel's ConfigDecoder).
 */
export function checkVersionSupported(configVersion: string): void {
  if (!isSupportedVersion(configVersion === "" ? "0.1.0" : configVersion)) {
    throw new CniError(ErrorCode.IncompatibleVersion, "incompatible CNI versions", {
      details: `config is "${configVersion}", plugin supports [${SUPPORTED_VERSIONS.map((v) => `"${v}"`).join(" ")}]`,
    });
  }
}

/** Larger texts are not parsed for their version (a configuration is a few KiB). */
const MAX_SNIFFED_CHARS = 4 * 1024 * 1024;

/**
 * The version of an error raised before the configuration was accepted (a bad environment, a
 * configuration that does not parse or is refused): the one the caller's configuration asks
 * for when Plexus speaks it, else the newest. CNI SPEC §5: an error carries cniVersion.
 * dist/plexus-shim chooses the version of its own errors the same way (error_version in
 * src/shim/plexus-shim.c; test/fuzz/shim-error-version.fuzz.test.ts compares the two).
 */
export function errorVersion(text: string): string {
  if (text.length <= MAX_SNIFFED_CHARS) {
    try {
      const doc: unknown = JSON.parse(text);
      if (typeof doc === "object" && doc !== null && !Array.isArray(doc)) {
        const v = (doc as { cniVersion?: unknown }).cniVersion;
        // CNI SPEC §1: a configuration without cniVersion is 0.1.0.
        if (v === undefined || v === "") return "0.1.0";
        if (typeof v === "string" && isSupportedVersion(v)) return v;
      }
    } catch {
      // Not JSON: the newest version below.
    }
  }
  return CURRENT_VERSION;
}
