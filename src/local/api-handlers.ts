// The verbs on resource URLs: GET / LIST / WATCH / POST / PUT / PATCH / DELETE, translated to
// ApiStore calls, with the response shapes of the real server (lists, tables, Status).
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest, methodNotAllowed, routeNotFound, successStatus } from "./api-errors.js";
import {
  acceptsPartialMetadata,
  acceptsTable,
  mediaType,
  parseBody,
  readBody,
  requirePatchType,
  sendJson,
  warningHeaders,
} from "./api-http.js";
import { PatchType } from "./api-patch.js";
import type { ResourceRoute } from "./api-routes.js";
import type { ApiStore, FieldValidation, WriteOptions } from "./api-store.js";
import type { IncludeObject } from "./api-table.js";
import { toTable } from "./api-table.js";
import type { KubeObject, ResourceDefinition } from "./api-types.js";
import { apiVersionOf, isJsonObject, refOf } from "./api-types.js";
import { serveWatch } from "./api-watch-stream.js";
import type { StreamRegistry } from "./api-watch-stream.js";

export interface HandlerContext {
  readonly store: ApiStore;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
  readonly bodyLimit: number;
  readonly streams: StreamRegistry;
  readonly bookmarkIntervalMs: number;
}

export function isWatch(query: URLSearchParams): boolean {
  const w = query.get("watch");
  return w === "true" || w === "1";
}

function includeObject(query: URLSearchParams): IncludeObject {
  const v = query.get("includeObject");
  return v === "None" || v === "Object" ? v : "Metadata";
}

function fieldValidation(query: URLSearchParams): FieldValidation | undefined {
  const v = query.get("fieldValidation");
  if (v === null || v === "") return undefined;
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw badRequest(`fieldValidation parameter unsupported: ${v}`);
}

function optionalNumber(query: URLSearchParams, key: string): number | undefined {
  const v = query.get(key);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid ${key}: ${JSON.stringify(v)}`);
  return n;
}

export async function handleResource(ctx: HandlerContext, route: ResourceRoute): Promise<void> {
  const def = ctx.store.registry.find(route.group, route.version, route.plural);
  if (!def) throw routeNotFound();
  if (route.namespace !== undefined && !def.namespaced) throw routeNotFound();
  if (route.subresource !== undefined && (route.subresource !== "status" || !def.statusSubresource))
    throw routeNotFound();
  if (ctx.query.has("dryRun")) throw badRequest("dryRun is not supported by the local API server");
  const method = ctx.req.method ?? "GET";
  if (route.name === undefined) return handleCollection(ctx, def, route, method);
  if (def.namespaced && route.namespace === undefined) throw routeNotFound();
  return handleItem(ctx, def, route, route.name, method);
}

async function handleCollection(
  ctx: HandlerContext,
  def: ResourceDefinition,
  route: ResourceRoute,
  method: string,
): Promise<void> {
  const { store, query, res } = ctx;
  const selection = {
    namespace: route.namespace,
    labelSelector: query.get("labelSelector") ?? undefined,
    fieldSelector: query.get("fieldSelector") ?? undefined,
  };
  switch (method) {
    case "GET": {
      if (isWatch(query)) {
        serveWatch(
          store,
          def,
          res,
          {
            ...selection,
            resourceVersion: query.get("resourceVersion") ?? undefined,
            sendInitialEvents: query.get("sendInitialEvents") === "true",
            timeoutSeconds: optionalNumber(query, "timeoutSeconds"),
            allowWatchBookmarks: query.get("allowWatchBookmarks") === "true",
            bookmarkIntervalMs: ctx.bookmarkIntervalMs,
            table: acceptsTable(ctx.req.headers.accept) ? { include: includeObject(query) } : undefined,
          },
          ctx.streams,
        );
        return;
      }
      const result = store.list(refOf(def), {
        ...selection,
        limit: optionalNumber(query, "limit"),
        continue: query.get("continue") ?? undefined,
      });
      if (acceptsTable(ctx.req.headers.accept)) {
        const options = {
          include: includeObject(query),
          now: new Date(),
          resourceVersion: result.resourceVersion,
          ...(result.continue !== undefined ? { continueToken: result.continue } : {}),
        };
        return sendJson(res, 200, toTable(def, result.items, options));
      }
      const partial = acceptsPartialMetadata(ctx.req.headers.accept);
      return sendJson(res, 200, {
        kind: partial ? "PartialObjectMetadataList" : def.listKind,
        apiVersion: partial ? "meta.k8s.io/v1" : apiVersionOf(def.group, def.version),
        metadata: {
          resourceVersion: result.resourceVersion,
          ...(result.continue !== undefined
            ? { continue: result.continue, remainingItemCount: result.remainingItemCount }
            : {}),
        },
        items: partial ? result.items.map(partialMetadata) : result.items,
      });
    }
    case "POST": {
      if (def.namespaced && route.namespace === undefined) throw methodNotAllowed(method, def.plural);
      const warnings: string[] = [];
      const body = await readJson(ctx);
      const created = store.create(refOf(def), body, {
        namespace: route.namespace,
        fieldValidation: fieldValidation(query),
        warnings,
      });
      return sendJson(res, 201, created, warningHeaders(warnings));
    }
    case "DELETE": {
      const deleted = store.deleteCollection(refOf(def), selection);
      return sendJson(res, 200, {
        kind: def.listKind,
        apiVersion: apiVersionOf(def.group, def.version),
        metadata: { resourceVersion: store.resourceVersion },
        items: deleted,
      });
    }
    default:
      throw methodNotAllowed(method, def.plural);
  }
}

async function handleItem(
  ctx: HandlerContext,
  def: ResourceDefinition,
  route: ResourceRoute,
  name: string,
  method: string,
): Promise<void> {
  const { store, query, res } = ctx;
  const ref = refOf(def);
  const subresource = route.subresource === "status" ? "status" : undefined;
  const warnings: string[] = [];
  const write: WriteOptions = {
    namespace: route.namespace,
    subresource,
    fieldValidation: fieldValidation(query),
    warnings,
  };
  switch (method) {
    case "GET": {
      if (isWatch(query)) throw methodNotAllowed("WATCH", `${def.plural}/${name}`);
      const object = store.get(ref, route.namespace, name);
      if (acceptsTable(ctx.req.headers.accept)) {
        return sendJson(
          res,
          200,
          toTable(def, [object], {
            include: includeObject(query),
            now: new Date(),
            resourceVersion: object.metadata.resourceVersion ?? "",
          }),
        );
      }
      return sendJson(res, 200, acceptsPartialMetadata(ctx.req.headers.accept) ? partialMetadata(object) : object);
    }
    case "PUT": {
      const updated = store.update(ref, await readJson(ctx), { ...write, name });
      return sendJson(res, 200, updated, warningHeaders(warnings));
    }
    case "PATCH": {
      const type = requirePatchType(mediaType(ctx.req.headers["content-type"]));
      const body = parseBody(type, await readBody(ctx.req, ctx.bodyLimit));
      const existed = type !== PatchType.Apply || store.find(ref, route.namespace, name) !== undefined;
      const patched = store.patch(ref, route.namespace, name, type, body, write);
      return sendJson(res, existed ? 200 : 201, patched, warningHeaders(warnings));
    }
    case "DELETE": {
      if (subresource !== undefined) throw methodNotAllowed(method, `${def.plural}/status`);
      const options = await readJson(ctx);
      const preconditions =
        isJsonObject(options) && isJsonObject(options["preconditions"]) ? options["preconditions"] : undefined;
      const removed = store.delete(ref, route.namespace, name, {
        preconditions: preconditions && {
          uid: typeof preconditions["uid"] === "string" ? preconditions["uid"] : undefined,
          resourceVersion:
            typeof preconditions["resourceVersion"] === "string" ? preconditions["resourceVersion"] : undefined,
        },
      });
      // Pods and namespaces answer with the object (graceful deletion on a real server); other
      // resources deleted at once answer with a Success Status.
      const returnsObject = def.group === "" && (def.plural === "pods" || def.plural === "namespaces");
      return sendJson(res, 200, returnsObject ? removed : successStatus(def, name, removed.metadata.uid));
    }
    default:
      throw methodNotAllowed(method, `${def.plural}/${name}`);
  }
}

async function readJson(ctx: HandlerContext): Promise<unknown> {
  const type = mediaType(ctx.req.headers["content-type"]);
  return parseBody(type === "" ? "application/json" : type, await readBody(ctx.req, ctx.bodyLimit));
}

function partialMetadata(object: KubeObject): Record<string, unknown> {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}
