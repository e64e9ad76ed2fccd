// The built-in resources the local API server serves: what Plexus, its node simulator and
// kubectl's usual commands touch. Anything else is 404, as on a cluster without that API.
import type { ResourceDefinition } from "./api-types.js";
import { ALL_VERBS } from "./api-types.js";

type Builtin = Pick<ResourceDefinition, "group" | "version" | "plural" | "singular" | "kind" | "namespaced"> &
  Partial<Pick<ResourceDefinition, "shortNames" | "categories" | "statusSubresource" | "verbs">>;

function builtin(def: Builtin): ResourceDefinition {
  return {
    shortNames: [],
    categories: [],
    statusSubresource: false,
    verbs: ALL_VERBS,
    listKind: `${def.kind}List`,
    printerColumns: [],
    ...def,
  };
}

export const CRD_GROUP = "apiextensions.k8s.io";

export function builtinResources(): ResourceDefinition[] {
  return [
    builtin({
      group: "",
      version: "v1",
      plural: "namespaces",
      singular: "namespace",
      kind: "Namespace",
      namespaced: false,
      shortNames: ["ns"],
      statusSubresource: true,
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    }),
    builtin({
      group: "",
      version: "v1",
      plural: "pods",
      singular: "pod",
      kind: "Pod",
      namespaced: true,
      shortNames: ["po"],
      categories: ["all"],
      statusSubresource: true,
    }),
    builtin({
      group: "",
      version: "v1",
      plural: "events",
      singular: "event",
      kind: "Event",
      namespaced: true,
      shortNames: ["ev"],
    }),
    builtin({
      group: "",
      version: "v1",
      plural: "configmaps",
      singular: "configmap",
      kind: "ConfigMap",
      namespaced: true,
      shortNames: ["cm"],
    }),
    builtin({
      group: "",
      version: "v1",
      plural: "serviceaccounts",
      singular: "serviceaccount",
      kind: "ServiceAccount",
      namespaced: true,
      shortNames: ["sa"],
    }),
    builtin({
      group: "",
      version: "v1",
      plural: "nodes",
      singular: "node",
      kind: "Node",
      namespaced: false,
      shortNames: ["no"],
      statusSubresource: true,
    }),
    // deploy/'s own kinds, so that `kubectl apply -k deploy/` and `kubectl delete -k deploy/`
    // run here as on a cluster (stored as written: no controller acts on them).
    builtin({
      group: "apps",
      version: "v1",
      plural: "daemonsets",
      singular: "daemonset",
      kind: "DaemonSet",
      namespaced: true,
      shortNames: ["ds"],
      categories: ["all"],
      statusSubresource: true,
    }),
    builtin({
      group: "rbac.authorization.k8s.io",
      version: "v1",
      plural: "clusterroles",
      singular: "clusterrole",
      kind: "ClusterRole",
      namespaced: false,
    }),
    builtin({
      group: "rbac.authorization.k8s.io",
      version: "v1",
      plural: "clusterrolebindings",
      singular: "clusterrolebinding",
      kind: "ClusterRoleBinding",
      namespaced: false,
    }),
    builtin({
      group: CRD_GROUP,
      version: "v1",
      plural: "customresourcedefinitions",
      singular: "customresourcedefinition",
      kind: "CustomResourceDefinition",
      namespaced: false,
      shortNames: ["crd", "crds"],
      categories: ["api-extensions"],
      statusSubresource: true,
    }),
  ];
}
