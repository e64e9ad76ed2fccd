// Shared by the selection-annotation unit tests: parse as pod team-a/web-0 would, one element,
// and the CniError a parse throws.

import { expect } from "vitest";
import { CniError } from "../../src/cni/error.js";
import type { Namespace } from "../../src/cni/ids.js";
import { parseNetworkSelections, type NetworkSelection, type SelectionWarning } from "../../src/networks/selection.js";
import { thrown } from "./cni-error.js";

export const POD = "team-a/web-0";

export const parse = (value: string, ns = "team-a"): readonly NetworkSelection[] =>
  parseNetworkSelections(value, { podNamespace: ns as Namespace, pod: POD }).selections;

/** The warnings of a parse (the selections must parse). */
export const warningsOf = (value: string, ns = "team-a"): readonly SelectionWarning[] =>
  parseNetworkSelections(value, { podNamespace: ns as Namespace, pod: POD }).warnings;

/** A strict parse (strictSelections: true). */
export const parseStrict = (value: string, ns = "team-a"): readonly NetworkSelection[] =>
  parseNetworkSelections(value, { podNamespace: ns as Namespace, pod: POD, strict: true }).selections;

/** The one selection a JSON list of one element (named net-a) gives. */
export function one(element: object): NetworkSelection {
  const [s, ...rest] = parse(JSON.stringify([{ name: "net-a", ...element }]));
  expect(rest).toHaveLength(0);
  return s as NetworkSelection;
}

export const parseError = (value: string): CniError => thrown(() => parse(value));
export const elementError = (element: object): CniError => parseError(JSON.stringify([{ name: "net-a", ...element }]));
