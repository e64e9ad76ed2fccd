// URL paths of the Kubernetes API, parsed the way the apiserver's RequestInfoFactory does:
// /api/v1/... and /apis/<group>/<version>/..., then [namespaces/<ns>/]<resource>[/<name>[/<sub>]].

export type Route =
  | { readonly kind: "version" }
  | { readonly kind: "health" }
  | { readonly kind: "core-versions" }
  | { readonly kind: "group-list" }
  | { readonly kind: "group"; readonly group: string }
  | { readonly kind: "resource-list"; readonly group: string; readonly version: string }
  | { readonly kind: "openapi-v2" }
  | { readonly kind: "openapi-v3-index" }
  | { readonly kind: "openapi-v3"; readonly group: string; readonly version: string }
  | ResourceRoute
  | { readonly kind: "unknown" };

export interface ResourceRoute {
  readonly kind: "resource";
  readonly group: string;
  readonly version: string;
  readonly namespace: string | undefined;
  readonly plural: string;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
}

// `namespaces/<ns>/status` and `/finalize` are subresources of the namespace itself.
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

const HEALTH = new Set(["/healthz", "/readyz", "/livez"]);

export function parseRoute(pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  if (path === "/version") return { kind: "version" };
  if (HEALTH.has(path) || [...HEALTH].some((h) => path.startsWith(`${h}/`))) return { kind: "health" };
  if (path === "/openapi/v2" || path === "/swagger-2.0.0.pb-v1") return { kind: "openapi-v2" };
  if (path === "/openapi/v3") return { kind: "openapi-v3-index" };
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  if (parts[0] === "openapi" && parts[1] === "v3") {
    if (parts[2] === "api" && parts.length === 4) return { kind: "openapi-v3", group: "", version: parts[3] ?? "" };
    if (parts[2] === "apis" && parts.length === 5)
      return { kind: "openapi-v3", group: parts[3] ?? "", version: parts[4] ?? "" };
    return { kind: "unknown" };
  }
  if (parts[0] === "api") {
    if (parts.length === 1) return { kind: "core-versions" };
    return resourcePath("", parts[1] ?? "", parts.slice(2));
  }
  if (parts[0] === "apis") {
    if (parts.length === 1) return { kind: "group-list" };
    if (parts.length === 2) return { kind: "group", group: parts[1] ?? "" };
    return resourcePath(parts[1] ?? "", parts[2] ?? "", parts.slice(3));
  }
  return { kind: "unknown" };
}

function resourcePath(group: string, version: string, rest: readonly string[]): Route {
  if (rest.length === 0) return { kind: "resource-list", group, version };
  let parts = rest;
  let namespace: string | undefined;
  if (parts[0] === "namespaces" && parts.length > 1) {
    namespace = parts[1];
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2] ?? "")) parts = parts.slice(2);
  }
  // /api/v1/namespaces/<name>[/status]: the namespace object itself.
  if (parts[0] === "namespaces" && namespace !== undefined && parts === rest) {
    return {
      kind: "resource",
      group,
      version,
      namespace: undefined,
      plural: "namespaces",
      name: namespace,
      subresource: parts[2],
    };
  }
  if (parts.length > 3) return { kind: "unknown" };
  return { kind: "resource", group, version, namespace, plural: parts[0] ?? "", name: parts[1], subresource: parts[2] };
}
