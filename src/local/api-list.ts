// Paging of LIST responses (`?limit=` / `?continue=`). The continue token names the last key
// returned; unlike etcd the next page reads current data, not a snapshot, which clients accept.
import { ApiError } from "./api-errors.js";
import type { KubeObject } from "./api-types.js";

export interface Page {
  readonly items: KubeObject[];
  readonly continueToken?: string;
  readonly remainingItemCount?: number;
}

function keyOf(object: KubeObject): string {
  return `${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`;
}

export function paginate(
  items: readonly KubeObject[],
  limit: number | undefined,
  continueToken: string | undefined,
): Page {
  let rest = [...items];
  if (continueToken !== undefined && continueToken !== "") {
    let after: string;
    try {
      const decoded: unknown = JSON.parse(Buffer.from(continueToken, "base64url").toString("utf8"));
      if (typeof decoded !== "object" || decoded === null || typeof (decoded as { start?: unknown }).start !== "string")
        throw new Error("bad token");
      after = (decoded as { start: string }).start;
    } catch (cause) {
      throw new ApiError(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result.",
        undefined,
        { cause },
      );
    }
    rest = rest.filter((o) => keyOf(o) > after);
  }
  if (limit === undefined || limit <= 0 || rest.length <= limit) return { items: rest };
  const page = rest.slice(0, limit);
  const last = page[page.length - 1];
  const token = Buffer.from(JSON.stringify({ start: last === undefined ? "" : keyOf(last) }), "utf8").toString(
    "base64url",
  );
  return { items: page, continueToken: token, remainingItemCount: rest.length - limit };
}
