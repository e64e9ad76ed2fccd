// The wire protocol between the shim (src/shim/plexus-shim.c) and the daemon: HTTP/1.1 over
// the daemon's unix socket, versioned in the path. Documented in src/daemon/README.md; kept
// small enough for a C program without a JSON parser, and for `curl --unix-socket`.
//
//   POST /v1/cni
//   Content-Type: application/vnd.plexus.cni.v1   the environment as NUL-terminated KEY=VALUE
//                                                 entries, one empty entry, then the stdin bytes
//   Content-Type: application/json                {"env": {...}, "stdin": "<text>" | {...}}
//   -> 200, Plexus-Exit-Code: N, body = exactly what the plugin prints on stdout
//   -> 4xx/5xx with a one-line text/plain reason when the request itself is wrong

import { z } from "zod";

const PROTOCOL_VERSION = "v1";
export const CNI_PATH = `/${PROTOCOL_VERSION}/cni`;
const FRAMED_CONTENT_TYPE = "application/vnd.plexus.cni.v1";
const JSON_CONTENT_TYPE = "application/json";
export const EXIT_CODE_HEADER = "plexus-exit-code";
/** stdin is bounded at 4 MiB by the plugin edge; the environment rarely exceeds a few KiB. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface CniCall {
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: string;
}

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const JsonCall = z
  .object({
    env: z.record(z.string(), z.string()),
    stdin: z.union([z.string(), z.record(z.string(), z.unknown())]),
  })
  .strict();

/** The request body as a call; a ProtocolError (400/415) names what is wrong. */
export function decodeCniCall(contentType: string | undefined, body: Buffer): CniCall {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === FRAMED_CONTENT_TYPE) return decodeFramed(body);
  if (type === JSON_CONTENT_TYPE) return decodeJson(body);
  throw new ProtocolError(
    415,
    `unsupported Content-Type ${JSON.stringify(contentType ?? "")}: send ${FRAMED_CONTENT_TYPE} ` +
      `or ${JSON_CONTENT_TYPE}`,
  );
}

function decodeFramed(body: Buffer): CniCall {
  const env: Record<string, string> = {};
  let at = 0;
  for (;;) {
    const end = body.indexOf(0, at);
    if (end < 0) throw new ProtocolError(400, "framed body: the environment is not ended by an empty entry");
    if (end === at) break;
    const entry = body.toString("utf8", at, end);
    const eq = entry.indexOf("=");
    if (eq <= 0)
      throw new ProtocolError(400, `framed body: environment entry ${JSON.stringify(entry)} is not KEY=VALUE`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
    at = end + 1;
  }
  return { env, stdin: body.toString("utf8", at + 1) };
}

function decodeJson(body: Buffer): CniCall {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new ProtocolError(400, `JSON body: ${(err as Error).message}`);
  }
  const parsed = JsonCall.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProtocolError(
      400,
      `JSON body: ${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"} (expected {"env": {"KEY": ` +
        `"VALUE", ...}, "stdin": "<config>" or {<config>}})`,
    );
  }
  const { env, stdin } = parsed.data;
  return { env, stdin: typeof stdin === "string" ? stdin : JSON.stringify(stdin) };
}

/** The framed body the shim sends; for clients written in TypeScript (tests, the benchmark). */
export function encodeFramedCall(call: CniCall): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(call.env)) parts.push(Buffer.from(`${key}=${value}\0`));
  parts.push(Buffer.from([0]), Buffer.from(call.stdin));
  return Buffer.concat(parts);
}

/** What a path that is not a known endpoint gets: a clear word about the versions spoken. */
export function unknownEndpoint(method: string, path: string): ProtocolError {
  const version = /^\/(v[^/]+)\//.exec(path)?.[1];
  if (version !== undefined && version !== PROTOCOL_VERSION)
    return new ProtocolError(
      404,
      `unsupported protocol version ${JSON.stringify(version)}: this daemon speaks ${PROTOCOL_VERSION} ` +
        `(POST ${CNI_PATH})`,
    );
  if (path === CNI_PATH) return new ProtocolError(405, `${method} ${path}: only POST is allowed`);
  return new ProtocolError(404, `no endpoint ${method} ${path}: this daemon serves POST ${CNI_PATH}`);
}
