// The CniError a synchronous call throws; the test fails when it throws nothing or something else.
// (The asynchronous twin is cniFailure in cni-plugins.ts.)

import { expect } from "vitest";
import { CniError } from "../../src/cni/error.js";

export function thrown(fn: () => unknown): CniError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CniError);
    return err as CniError;
  }
  throw new Error("expected a CniError, nothing was thrown");
}
