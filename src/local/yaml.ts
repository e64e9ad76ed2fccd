// The one importer of the "yaml" package in src/: CRD manifests, kubeconfig files and
// server-side-apply bodies are YAML.
import { parseAllDocuments, stringify } from "yaml";

/** Every non-empty document of a (possibly multi-document) YAML text, as plain JSON values. */
export function parseYamlDocuments(text: string): unknown[] {
  const docs = parseAllDocuments(text);
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new SyntaxError(doc.errors.map((e) => e.message).join("; "));
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export function stringifyYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}
