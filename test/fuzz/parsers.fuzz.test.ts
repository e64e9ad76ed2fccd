// Property tests of every parser of outside input, in process (thousands of cases in seconds):
// the selection annotation, a NAD's spec.config, Plexus's stdin config, CNI_ARGS, the CNI_*
// environment, and the state files DEL reads. Each answer is either a parsed value or a
// CniError with a spec code and a message; nothing else is ever thrown, and a state file's
// content never reaches an error. The real executable gets a subset of the same inputs in
// plexus-binary.fuzz.test.ts.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTACHMENT_RECORD_KIND, ATTACHMENT_RECORD_VERSION } from "../../src/cache/record.js";
import { createCacheStore } from "../../src/cache/store.js";
import { parseCniArgs } from "../../src/cni/args.js";
import { parseCniEnv } from "../../src/cni/env.js";
import { CniError } from "../../src/cni/error.js";
import type { Namespace } from "../../src/cni/ids.js";
import { parsePlexusNetConf } from "../../src/config/netconf.js";
import { delegateConfigFromNad } from "../../src/networks/nad-config.js";
import { parseNetworkSelections } from "../../src/networks/selection.js";
import { anyJson, edgyString, fuzzParams } from "./fuzz-settings.js";

const CODES = new Set([1, 2, 3, 4, 5, 6, 7, 11, 100, 101, 102, 103, 999]);

/** Runs `fn`; a CniError with a known code and a message is a fine answer, anything else thrown fails. */
async function parsedOrCniError(fn: () => unknown): Promise<"parsed" | CniError> {
  try {
    await fn();
    return "parsed";
  } catch (err) {
    if (!(err instanceof CniError)) throw new Error(`not a CniError: ${String(err)}`, { cause: err });
    expect(CODES.has(err.code), `code ${err.code}`).toBe(true);
    expect(err.msg.length).toBeGreaterThan(0);
    return err;
  }
}

// --- the selection annotation -------------------------------------------------------------

const selectionObject = fc.record(
  {
    name: edgyString,
    namespace: edgyString,
    interface: edgyString,
    ips: fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), edgyString), { maxLength: 3 }),
    mac: fc.oneof(fc.constantFrom("02:00:00:00:00:0a", "02:00:00:00:00:0A", "01:00:5e:00:00:01"), edgyString),
    "default-route": fc.array(fc.oneof(fc.ipV4(), edgyString), { maxLength: 2 }),
    portMappings: fc.array(
      fc.record({ hostPort: fc.integer({ min: -2, max: 70000 }), containerPort: fc.integer(), protocol: edgyString }),
      { maxLength: 2 },
    ),
    bandwidth: fc.dictionary(edgyString, fc.integer(), { maxKeys: 3 }),
    "cni-args": fc.dictionary(edgyString, anyJson, { maxKeys: 3 }),
    deviceID: edgyString,
    interfaceRequest: edgyString,
    "ipam-claim-reference": edgyString,
  },
  { requiredKeys: [] },
);

const annotation = fc.oneof(
  edgyString,
  fc
    .array(fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,12}(\/[a-z0-9-]{1,12})?(@[a-z0-9]{1,8})?$/), edgyString), {
      maxLength: 5,
    })
    .map((items) => items.join(",")),
  fc.array(selectionObject, { maxLength: 4 }).map((a) => JSON.stringify(a)),
  anyJson.map((v) => JSON.stringify(v)),
  fc.array(selectionObject, { maxLength: 2 }).map((a) => JSON.stringify(a).slice(0, -1)),
);

// --- Plexus's own configuration (stdin) ---------------------------------------------------

const stdinConf = fc.record(
  {
    cniVersion: fc.oneof(fc.constantFrom("0.1.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", "2.0.0", ""), edgyString),
    name: edgyString,
    type: fc.constant("plexus"),
    clusterNetwork: fc.oneof(fc.constant("/etc/cni/net.d/10-x.conflist"), edgyString),
    delegates: fc.array(fc.dictionary(edgyString, anyJson, { maxKeys: 3 }), { maxLength: 2 }),
    defaultNetworks: fc.array(edgyString, { maxLength: 2 }),
    cniDir: fc.oneof(fc.constant("/var/lib/cni/plexus"), edgyString),
    binDir: fc.oneof(fc.constant("/opt/cni/bin"), edgyString),
    logLevel: fc.oneof(fc.constantFrom("debug", "INFO", "verbose"), edgyString),
    globalNamespaces: fc.oneof(edgyString, fc.array(edgyString, { maxLength: 2 })),
    namespaceIsolation: fc.oneof(fc.boolean(), anyJson),
    delegateTimeoutSeconds: fc.oneof(fc.integer(), fc.double()),
    kubernetes: fc.dictionary(edgyString, anyJson, { maxKeys: 3 }),
    runtimeConfig: anyJson,
    auxiliaryCNIChainName: edgyString,
  },
  { requiredKeys: [] },
);

// --- a NAD's spec.config ------------------------------------------------------------------

const plugin = fc.record(
  {
    type: fc.oneof(fc.constantFrom("macvlan", "bridge", "host-local", "plexus", "../sh", "/bin/sh"), edgyString),
    name: edgyString,
    master: edgyString,
    capabilities: fc.dictionary(edgyString, fc.oneof(fc.boolean(), anyJson), { maxKeys: 2 }),
    ipam: fc.oneof(
      fc.record({ type: fc.oneof(fc.constantFrom("host-local", "static", "../x", "plexus"), edgyString) }),
      anyJson,
    ),
  },
  { requiredKeys: [] },
);
const nadConfig = fc.oneof(
  fc.record(
    { cniVersion: edgyString, name: edgyString, plugins: fc.oneof(fc.array(plugin, { maxLength: 3 }), anyJson) },
    { requiredKeys: [] },
  ),
  plugin.map((p) => ({ cniVersion: "1.0.0", ...p })),
  anyJson,
);
const nadConfigText = fc.oneof(
  nadConfig.map((c) => JSON.stringify(c)),
  nadConfig.map((c) => JSON.stringify(c).slice(0, 20)),
  edgyString,
);

// --- the CNI_* environment and CNI_ARGS ----------------------------------------------------

const cniArgs = fc.oneof(
  edgyString,
  fc
    .array(fc.tuple(edgyString, edgyString), { maxLength: 6 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join(";")),
  fc.constantFrom(
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=a;K8S_POD_NAME=b",
    "K8S_POD_NAMESPACE=a;K8S_POD_NAME=b;K8S_POD_UID=",
    "IgnoreUnknown=true;IP=198.18.0.9",
    ";;;",
    "=",
  ),
);
const cniEnv = fc.record(
  {
    CNI_COMMAND: fc.oneof(fc.constantFrom("ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION", "add", ""), edgyString),
    CNI_CONTAINERID: fc.oneof(fc.stringMatching(/^[a-f0-9]{1,64}$/), edgyString, fc.constant("a".repeat(5000))),
    CNI_NETNS: edgyString,
    CNI_IFNAME: fc.oneof(fc.constantFrom("eth0", "net1", "0123456789abcdef"), edgyString),
    CNI_ARGS: cniArgs,
    CNI_PATH: fc.oneof(fc.constant("/opt/cni/bin"), edgyString),
  },
  { requiredKeys: [] },
);

describe("parsers of outside input (in process)", () => {
  it("the selection annotation: selections, or a CniError", async () => {
    await fc.assert(
      fc.asyncProperty(annotation, async (value) => {
        await parsedOrCniError(() =>
          parseNetworkSelections(value, { podNamespace: "team-a" as Namespace, pod: "team-a/web-0" }),
        );
      }),
      fuzzParams(600),
    );
  });

  it("a NAD's spec.config: a delegate list, or a CniError naming the NAD", async () => {
    await fc.assert(
      fc.asyncProperty(nadConfigText, async (config) => {
        const out = await parsedOrCniError(() =>
          delegateConfigFromNad(
            { metadata: { name: "net-a", namespace: "team-a" }, spec: { config } },
            async () => {
              throw new CniError(100, "no conf file");
            },
            { pod: "team-a/web-0" },
          ),
        );
        if (out !== "parsed" && config.trim() !== "") expect(out.msg).toContain("team-a/net-a");
      }),
      fuzzParams(500),
    );
  });

  it("Plexus's stdin config: a configuration, or a CniError", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(stdinConf, anyJson), async (raw) => {
        await parsedOrCniError(() => parsePlexusNetConf(raw));
      }),
      fuzzParams(400),
    );
  });

  it("CNI_ARGS and the CNI_* environment: parsed, or a CniError", async () => {
    await fc.assert(
      fc.asyncProperty(cniEnv, async (env) => {
        await parsedOrCniError(() => parseCniArgs(env.CNI_ARGS ?? ""));
        await parsedOrCniError(() => parseCniEnv(env));
      }),
      fuzzParams(400),
    );
  });

  describe("state files", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "plexus-fuzz-state-"));
    });
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const validRecord = {
      kind: ATTACHMENT_RECORD_KIND,
      version: ATTACHMENT_RECORD_VERSION,
      containerId: "c1",
      primaryIfName: "eth0",
      ifName: "net1",
      index: 1,
      role: "selected",
      networkRef: "team-a/net",
      netns: "/run/netns/x",
      cniArgs: [["K8S_POD_NAME", "p"]],
      capabilityArgs: {},
      config: { cniVersion: "1.0.0", name: "n", plugins: [{ type: "bridge" }] },
      state: "added",
      createdAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-01T00:00:00.000Z",
    };
    const SECRET = "Zq9SECRETCONTENTzq9";
    const fileText = fc.oneof(
      // A valid record with one key changed or removed.
      fc
        .tuple(fc.constantFrom(...Object.keys(validRecord)), fc.option(anyJson))
        .map(([k, v]) => JSON.stringify({ ...validRecord, [k]: v ?? undefined, note: SECRET })),
      anyJson.map((v) => `${JSON.stringify(v)}${SECRET}`),
      edgyString.map((s) => `${SECRET}${s}`),
      fc.constant(JSON.stringify(validRecord)),
    );

    it("DEL's read of a container's files: records, or unreadable files named without their content", async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fileText, async (text) => {
          const state = join(dir, String(n++));
          await mkdir(join(state, "c1"), { recursive: true, mode: 0o700 });
          await writeFile(join(state, "c1", "net1.json"), text, { mode: 0o600 });
          const loaded = await createCacheStore(state).loadContainer("c1");
          expect(loaded.attachments.length + loaded.corrupt.length).toBe(1);
          for (const c of loaded.corrupt) expect(c.reason).not.toContain(SECRET);
        }),
        fuzzParams(400),
      );
    });
  });
});
