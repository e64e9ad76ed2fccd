// HTTP plumbing of the local API server: bounded bodies, JSON replies, Status errors, and
// reading the media types Kubernetes clients negotiate with.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError, badRequest, internalError, requestTooLarge, unsupportedMediaType } from "./api-errors.js";
import { PatchType } from "./api-patch.js";
import { decodeKubernetesProtobuf, PROTOBUF_MEDIA_TYPE } from "./api-protobuf.js";
import { parseYamlDocuments } from "./yaml.js";

/** Same order of magnitude as the real server's limit (3 MiB for a JSON body). */
export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) throw requestTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw requestTooLarge(limit);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** Parses a body by its Content-Type: JSON for everything, YAML too for server-side apply. */
export function parseBody(contentType: string, body: Buffer): unknown {
  if (contentType === PROTOBUF_MEDIA_TYPE) return decodeKubernetesProtobuf(body);
  const text = body.toString("utf8");
  if (text.trim() === "") return undefined;
  if (contentType === PatchType.Apply || contentType === "application/yaml") {
    try {
      return parseYamlDocuments(text)[0];
    } catch (cause) {
      throw new ApiError(400, "BadRequest", `error decoding YAML: ${(cause as Error).message}`, undefined, { cause });
    }
  }
  if (
    contentType !== "" &&
    contentType !== "application/json" &&
    !Object.values(PatchType).includes(contentType as PatchType)
  ) {
    throw unsupportedMediaType(contentType);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ApiError(400, "BadRequest", `error decoding request body: ${(cause as Error).message}`, undefined, {
      cause,
    });
  }
}

export function requirePatchType(contentType: string): PatchType {
  const known = Object.values(PatchType) as string[];
  if (!known.includes(contentType)) throw unsupportedMediaType(contentType);
  return contentType as PatchType;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(payload),
    "Cache-Control": "no-cache, private",
    ...headers,
  });
  res.end(payload);
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof SyntaxError) return badRequest(error.message);
  return internalError(error instanceof Error ? error.message : String(error), error);
}

export function sendError(res: ServerResponse, error: unknown): ApiError {
  const apiError = toApiError(error);
  if (!res.headersSent) sendJson(res, apiError.code, apiError.status);
  else res.destroy();
  return apiError;
}

/** kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` when it prints tables. */
export function acceptsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => /;\s*as=Table/.test(part) && /g=meta\.k8s\.io/.test(part));
}

export function acceptsPartialMetadata(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => /;\s*as=PartialObjectMetadata(List)?/.test(part));
}

/** The RFC 7234 warning header format Kubernetes uses: `299 - "text"`. */
export function warningHeaders(warnings: readonly string[]): Record<string, string[]> {
  return warnings.length === 0 ? {} : { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) };
}
