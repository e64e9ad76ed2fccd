// One client's shared parts, built from the configured access: the connection pool
// (src/k8s/transport.ts), the retry policy, the log and the metrics sink.

import type { Logger } from "../log/logger.js";
import { describeApiAccess, findApiAccess, type ApiAccessOptions } from "./api-access.js";
import type { ApiContext } from "./api-calls.js";
import { loadKubeConfig } from "./client-config.js";
import type { KubeMetricsSink } from "./metrics.js";
import { KubeError } from "./port.js";
import { createRequester } from "./request.js";
import { defaultSleep, type KubeClientSettings, type Sleep } from "./retry.js";
import { createTransport } from "./transport.js";

/** Throws a KubeError when no access is configured or the kubeconfig is unusable. */
export function createApiContext(
  options: ApiAccessOptions & {
    readonly settings: KubeClientSettings;
    readonly log: Logger;
    readonly metrics?: KubeMetricsSink | undefined;
    readonly sleep?: Sleep | undefined;
  },
): ApiContext {
  const access = findApiAccess(options);
  if (!access) {
    throw new KubeError(
      "unavailable",
      "no Kubernetes API access configured: no kubeconfig, and no in-cluster service account " +
        "(KUBERNETES_SERVICE_HOST/PORT)",
    );
  }
  const transport = createTransport(loadKubeConfig(access));
  const sleep = options.sleep ?? defaultSleep;
  const { log, settings, metrics } = options;
  log.debug({ access: describeApiAccess(access), server: transport.server }, "Kubernetes API client ready");
  const request = createRequester({ transport, settings, sleep, log, metrics });
  return { transport, request, settings, sleep, log, metrics };
}
