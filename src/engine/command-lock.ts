// Every command for a container runs under the container's lock (src/cache/container-lock.ts,
// docs/state.md "Locks"): ADD, DEL and CHECK through withContainerLock, GC per container. So a
// DEL that arrives while ADD runs waits for it, and then tears down all ADD did.
//
// When the lock's previous holder died holding it (the runtime SIGKILLed plexus, or the daemon
// was killed), delegates it started may still be running: they run in process groups of their
// own (src/runtime/spawn-plugin.ts). They are stopped, and waited for, before this command does
// anything, so none of them can add a link or an address after the DEL that follows. Every
// delegate this command starts is marked with the lock's owner token for the same reason.

import type { ContainerLock } from "../cache/store.js";
import type { CniRuntime, RuntimeConf } from "../runtime/types.js";
import type { ContainerRequest, EngineDeps } from "./deps.js";

export async function withContainerLock<T>(
  req: ContainerRequest,
  deps: EngineDeps,
  run: (deps: EngineDeps) => Promise<T>,
): Promise<T> {
  const containerId = req.env.containerId;
  const lock = await deps.cache.lockContainer(containerId, {
    signal: deps.signal,
    // A delegate may run this long (the runtime's own deadline usually comes first); a command
    // that waits longer than that fails with code 11 and the runtime tries again.
    timeoutMs: req.conf.delegateTimeoutSeconds * 1000,
    onWait: (holder) =>
      deps.log.info(
        { holderPid: holder?.pid, since: holder?.since },
        `waiting for the lock of container ${containerId}`,
      ),
  });
  try {
    return await run(await ownedDeps(lock, deps));
  } finally {
    await lock.release();
  }
}

/** The deps of a command under `lock`: leftovers of an interrupted holder stopped, delegates marked. */
export async function ownedDeps(lock: ContainerLock, deps: EngineDeps): Promise<EngineDeps> {
  if (lock.interrupted) {
    const stopped = await deps.runtime.stopOwned(lock.owner, deps.signal);
    deps.log.warn(
      { previousPid: lock.interrupted.pid, since: lock.interrupted.since, stoppedProcesses: stopped },
      "the previous command for this container was killed while it ran; stopped what it left running",
    );
  }
  return { ...deps, runtime: ownedRuntime(deps.runtime, lock.owner) };
}

function ownedRuntime(runtime: CniRuntime, owner: string): CniRuntime {
  const own = (rt: RuntimeConf): RuntimeConf => ({ ...rt, owner });
  return {
    ...runtime,
    addNetworkList: (list, rt, signal, from) => runtime.addNetworkList(list, own(rt), signal, from),
    delNetworkList: (list, rt, prev, signal) => runtime.delNetworkList(list, own(rt), prev, signal),
    checkNetworkList: (list, rt, prev, signal) => runtime.checkNetworkList(list, own(rt), prev, signal),
  };
}
