// The verbs, each a use case of the engine.

import type { Result100 } from "../cni/result.js";
import { cmdAdd } from "../engine/add.js";
import { cmdCheck } from "../engine/check.js";
import { cmdDel } from "../engine/del.js";
import type { EngineDeps, PluginRequest } from "../engine/deps.js";
import { cmdGc } from "../engine/gc.js";
import { cmdStatus } from "../engine/status.js";

export async function dispatch(req: PluginRequest, deps: EngineDeps): Promise<Result100 | undefined> {
  const { env } = req;
  switch (env.command) {
    case "ADD":
      return cmdAdd({ ...req, env }, deps);
    case "DEL":
      await cmdDel({ ...req, env }, deps);
      return undefined;
    case "CHECK":
      await cmdCheck({ ...req, env }, deps);
      return undefined;
    case "STATUS":
      await cmdStatus(req, deps);
      return undefined;
    case "GC":
      await cmdGc(req, deps);
      return undefined;
    case "VERSION":
      return undefined; // answered at the edge before any configuration is read
  }
}
