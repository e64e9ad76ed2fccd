// Routes one authenticated request: discovery, OpenAPI, health, or a resource verb.
import { methodNotAllowed, routeNotFound } from "./api-errors.js";
import { apiGroup, coreVersions, groupList, resourceList, versionInfo } from "./api-discovery.js";
import { handleResource, isWatch } from "./api-handlers.js";
import type { HandlerContext } from "./api-handlers.js";
import { sendJson } from "./api-http.js";
import {
  OPENAPI_V2_PROTOBUF,
  openApiV2Json,
  openApiV2Protobuf,
  openApiV3Document,
  openApiV3Index,
} from "./api-openapi.js";
import type { Route } from "./api-routes.js";
import { qualifiedResource } from "./api-types.js";

export interface DispatchContext extends HandlerContext {
  /** host:port as clients reach the server (for /api's serverAddressByClientCIDRs). */
  readonly serverAddress: string;
}

export async function dispatch(ctx: DispatchContext, route: Route): Promise<void> {
  const { res, store } = ctx;
  if (route.kind === "resource") return handleResource(ctx, route);
  if (ctx.req.method !== "GET" && ctx.req.method !== "HEAD")
    throw methodNotAllowed(ctx.req.method ?? "", ctx.req.url ?? "");
  const found = (doc: unknown): void => (doc === undefined ? raise() : sendJson(res, 200, doc));
  switch (route.kind) {
    case "version":
      return sendJson(res, 200, versionInfo());
    case "health":
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("ok");
      return;
    case "core-versions":
      return sendJson(res, 200, coreVersions(ctx.serverAddress));
    case "group-list":
      return sendJson(res, 200, groupList(store.registry));
    case "group":
      return found(apiGroup(store.registry, route.group));
    case "resource-list":
      return found(resourceList(store.registry, route.group, route.version));
    case "openapi-v3-index":
      return sendJson(res, 200, openApiV3Index(store.registry));
    case "openapi-v3":
      return found(openApiV3Document(store.registry, route.group, route.version));
    case "openapi-v2":
      if ((ctx.req.headers.accept ?? "").includes("protobuf")) {
        const body = openApiV2Protobuf();
        res.writeHead(200, { "Content-Type": OPENAPI_V2_PROTOBUF, "Content-Length": body.length });
        res.end(body);
        return;
      }
      return sendJson(res, 200, openApiV2Json());
    case "unknown":
      return raise();
  }
}

function raise(): never {
  throw routeNotFound();
}

/** The Kubernetes verb and resource of a request, for the request log. */
export function describeRequest(
  method: string,
  route: Route,
  query: URLSearchParams,
): { verb: string; resource?: string } {
  if (route.kind !== "resource") return { verb: "nonresource" };
  const base = qualifiedResource({ group: route.group, plural: route.plural });
  const resource = route.subresource === undefined ? base : `${base}/${route.subresource}`;
  const collection = route.name === undefined;
  const verbs: Record<string, string> = {
    GET: collection ? (isWatch(query) ? "watch" : "list") : "get",
    POST: "create",
    PUT: "update",
    PATCH: "patch",
    DELETE: collection ? "deletecollection" : "delete",
  };
  return { verb: verbs[method] ?? method.toLowerCase(), resource };
}
