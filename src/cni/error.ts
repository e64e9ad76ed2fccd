// The one error family of Plexus. Every failure that reaches the runtime is a CniError
// carrying a spec code (CNI SPEC §5 "Error"); it is turned into wire JSON once, at the edge.

export const ErrorCode = {
  /** libcni: a plugin failed without a parsable diagnostic. */
  Unknown: 0,
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  /** STATUS: cannot service ADD. */
  PluginNotAvailable: 50,
  /** STATUS: cannot service ADD, existing containers may have limited connectivity. */
  LimitedConnectivity: 51,
  /** Plexus (100+ is plugin-specific): a Kubernetes object the request needs does not exist. */
  NotFound: 100,
  /** Plexus: the request is not allowed (namespace isolation, forbidden by the API server). */
  Forbidden: 101,
  /** Plexus: a delegate plugin failed; its own code and message are kept in `details`/`cause`. */
  DelegateFailed: 102,
  /** Plexus: a deadline passed. */
  Timeout: 103,
  Internal: 999,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The error object of the CNI protocol, as printed on stdout. */
export interface WireError {
  readonly cniVersion?: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

export class CniError extends Error {
  override readonly name = "CniError";
  readonly code: number;
  readonly msg: string;
  readonly details: string | undefined;

  constructor(code: number, msg: string, options: { details?: string | undefined; cause?: unknown } = {}) {
    super(options.details ? `${msg}; ${options.details}` : msg, { cause: options.cause });
    this.code = code;
    this.msg = msg;
    this.details = options.details;
  }

  toWire(cniVersion?: string): WireError {
    return {
      ...(cniVersion !== undefined ? { cniVersion } : {}),
      code: this.code,
      msg: this.msg,
      ...(this.details ? { details: this.details } : {}),
    };
  }

  /** A new error that says where this one happened, keeping the code (and this as cause). */
  withContext(prefix: string): CniError {
    return new CniError(this.code, `${prefix}: ${this.msg}`, { details: this.details, cause: this });
  }
}

/** Anything thrown becomes a CniError exactly once; a CniError is returned as is. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CniError(ErrorCode.Internal, msg, { cause: err });
}
