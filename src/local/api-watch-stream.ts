// WATCH over HTTP: a 200 response streaming one JSON event per line, as client-go, kubectl and
// client-node's Watch read it. A resourceVersion the server forgot is an ERROR event carrying a
// 410 Expired Status (the stream then ends and informers relist), as on a real server.
import type { ServerResponse } from "node:http";
import { ApiError } from "./api-errors.js";
import type { ApiStore, WatchOptions } from "./api-store.js";
import type { IncludeObject } from "./api-table.js";
import { toTable } from "./api-table.js";
import type { KubeObject, ResourceDefinition, WatchEvent } from "./api-types.js";
import { apiVersionOf, refOf } from "./api-types.js";

export interface WatchStreamOptions extends WatchOptions {
  readonly timeoutSeconds?: number | undefined;
  readonly allowWatchBookmarks?: boolean | undefined;
  readonly bookmarkIntervalMs: number;
  /** Set when the client asked for Table output (`kubectl get -w`). */
  readonly table?: { readonly include: IncludeObject } | undefined;
}

/** Open streams register a closer here so that the server can end them on stop(). */
export type StreamRegistry = Set<() => void>;

export function serveWatch(
  store: ApiStore,
  def: ResourceDefinition,
  res: ServerResponse,
  options: WatchStreamOptions,
  streams: StreamRegistry,
): void {
  const send = (event: WatchEvent): void => {
    res.write(`${JSON.stringify(event)}\n`);
  };
  let firstTableEvent = true;
  const present = (event: WatchEvent): WatchEvent => {
    if (!options.table || event.type === "ERROR" || event.type === "BOOKMARK") return event;
    const table = toTable(def, [event.object as KubeObject], {
      include: options.table.include,
      now: new Date(),
      withColumns: firstTableEvent,
    });
    firstTableEvent = false;
    return { type: event.type, object: table };
  };
  let handle: { stop(): void } | undefined;
  const timers: NodeJS.Timeout[] = [];
  const close = (): void => {
    handle?.stop();
    for (const t of timers) clearTimeout(t);
    streams.delete(close);
    if (!res.writableEnded) res.end();
  };
  try {
    handle = store.watch(refOf(def), options, { onEvent: (e) => send(present(e)), onError: close });
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 410) throw error;
    startStream(res);
    send({ type: "ERROR", object: { ...error.status } });
    res.end();
    return;
  }
  startStream(res);
  streams.add(close);
  res.on("close", close);
  if (options.timeoutSeconds !== undefined && options.timeoutSeconds > 0) {
    timers.push(setTimeout(close, options.timeoutSeconds * 1000));
  }
  if (options.allowWatchBookmarks) {
    const bookmark = (): void => {
      send({
        type: "BOOKMARK",
        object: {
          kind: def.kind,
          apiVersion: apiVersionOf(def.group, def.version),
          metadata: { resourceVersion: store.resourceVersion },
        },
      });
    };
    const interval = setInterval(bookmark, options.bookmarkIntervalMs);
    timers.push(interval);
  }
}

function startStream(res: ServerResponse): void {
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, private",
    "Transfer-Encoding": "chunked",
  });
  res.flushHeaders();
}
