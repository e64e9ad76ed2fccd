// Shared by the selection-annotation unit tests: parse as pod team-a/web-0 would, one element,
// and the CniError a parse throws.

import { expect } from "vitest";
import { CniError } from "../../src/cni/error.js";
import type { Namespace } from "../../src/cni/ids.js";
import { parseNetworkSelections, type NetworkSelection } from "../../src/networks/selection.js";
import { thrown } from "./cni-error.js";

export const POD = "team-a/web-0";

export const parse = (value: string, ns = "team-a"): readonly NetworkSelection[] =>
  parseNetworkSelections(value, { podNamespace: ns as Namespace, pod: POD });

/** The one selection a JSON list of one element (named net-a) gives. */
export function one(element: object): NetworkSelection {
  const [s, ...rest] = parse(JSON.stringify([{ name: "net-a", ...element }]));
  expect(rest).toHaveLength(0);
  return s as NetworkSelection;
}

export const parseError = (value: string): CniError => thrown(() => parse(value));
export const elementError = (element: object): CniError => parseError(JSON.stringify([{ name: "net-a", ...element }]));
