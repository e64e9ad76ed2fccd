// CNI specification versions and the comparisons the protocol needs.
// CNI SPEC §1 "Version considerations"; libcni pkg/version.

import { CniError, ErrorCode } from "./error.js";

/** Every spec version Plexus speaks, oldest first (libcni `version.All`). */
export const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const CURRENT_VERSION: CniVersion = "1.1.0";

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Parses "1", "1.2" or "1.2.3" into numbers; "" means 0.1.0 (libcni ParseVersion). */
export function parseVersion(v: string): readonly [number, number, number] {
  if (v === "") return [0, 1, 0];
  const parts = v.split(".");
  if (parts.length > 3) {
    throw new CniError(ErrorCode.DecodingFailure, `invalid version "${v}": too many parts`);
  }
  const names = ["major", "minor", "micro"] as const;
  const nums = parts.map((p, i) => {
    if (!/^\d+$/.test(p)) {
      throw new CniError(ErrorCode.DecodingFailure, `failed to convert ${names[i]} version part "${p}"`);
    }
    return Number(p);
  });
  return [nums[0] ?? 0, nums[1] ?? 0, nums[2] ?? 0];
}

/** Negative when a < b, zero when equal, positive when a > b; numeric per component. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [parseVersion(a), parseVersion(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/** CHECK exists since 0.4.0; STATUS and GC since 1.1.0 (skel's version gates). */
export function versionAllows(command: "CHECK" | "STATUS" | "GC", v: string): boolean {
  return versionAtLeast(v, command === "CHECK" ? "0.4.0" : "1.1.0");
}
