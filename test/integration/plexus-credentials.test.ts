// No credential reaches any output of dist/plexus, at any log level: stdout (the CNI error),
// stderr and the log file, for every shape a kubeconfig carries credentials in (a bearer token,
// user:password in the server URL, basic-auth fields, client-key-data, a token file, exec and
// auth-provider configs), each through the failures that quote what they were given: a
// kubeconfig that does not parse, a server nobody listens on, a rejected credential, a
// credential plugin that fails or prints garbage. A leak is any 8 characters of a secret.

import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { NETWORKS, startPlexusHarness, type HarnessPod, type PlexusHarness } from "./plexus-harness.js";

const WINDOW = 8;

/** A distinctive secret: no 8 characters of it occur anywhere by chance. */
function secret(prefix: string): string {
  return `${prefix}${randomBytes(24).toString("hex")}`;
}

/** The first WINDOW-character piece of `value` found in `text`, if any. */
function leakedPiece(text: string, value: string): string | undefined {
  for (let i = 0; i + WINDOW <= value.length; i++) {
    const piece = value.slice(i, i + WINDOW);
    if (text.includes(piece)) return piece;
  }
  return undefined;
}

interface Case {
  readonly title: string;
  /** The kubeconfig text (YAML), given the harness's own kubeconfig document and a temp dir. */
  readonly kubeconfig: (doc: KubeconfigDoc, dir: string) => Promise<string>;
  readonly secrets: readonly string[];
  /** Words the CNI error of the ADD must contain, where the case has a specific answer. */
  readonly says?: string;
}

interface KubeconfigDoc {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  [key: string]: unknown;
}

const DOWN = "https://127.0.0.1:1";

function withUser(doc: KubeconfigDoc, user: Record<string, unknown>, server?: string): KubeconfigDoc {
  return {
    ...doc,
    users: doc.users.map((u) => ({ ...u, user })),
    clusters: doc.clusters.map((c) => ({ ...c, cluster: { ...c.cluster, ...(server ? { server } : {}) } })),
  };
}

/** YAML whose line after `marker` is mis-indented: the parser quotes the lines around it. */
function brokenAfter(doc: KubeconfigDoc, marker: string): string {
  const lines = stringify(doc, { lineWidth: 0 }).split("\n");
  const at = lines.findIndex((l) => l.includes(marker));
  if (at < 0) throw new Error(`${marker} not in the kubeconfig`);
  lines.splice(at + 1, 0, "   broken: [indentation");
  return lines.join("\n");
}

async function script(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

const token = secret("eyJhbGciOiJSUzI1NiJ9.");
const urlPassword = secret("pw");
const fieldPassword = secret("pw");
const keyData = Buffer.from(`-----BEGIN PRIVATE KEY-----\n${secret("key")}\n-----END PRIVATE KEY-----\n`).toString(
  "base64",
);
const fileToken = secret("ft");
const execToken = secret("ex");
const execEnv = secret("env");
const providerSecret = secret("ap");

const cases: Case[] = [
  {
    title: "a bearer token in a kubeconfig that does not parse",
    kubeconfig: async (doc) => brokenAfter(withUser(doc, { token }), token),
    secrets: [token],
  },
  {
    title: "a bearer token, the server down",
    kubeconfig: async (doc) => stringify(withUser(doc, { token }, DOWN)),
    secrets: [token],
  },
  {
    title: "a bearer token the server rejects (401)",
    kubeconfig: async (doc) => stringify(withUser(doc, { token })),
    secrets: [token],
  },
  {
    title: "user:password in the server URL, the server down",
    kubeconfig: async (doc) => stringify(withUser(doc, { token }, `https://plexus:${urlPassword}@127.0.0.1:1`)),
    secrets: [token, urlPassword],
  },
  {
    title: "user:password in the server URL, the server up",
    kubeconfig: async (doc) => {
      const server = String(doc.clusters[0]?.cluster["server"]).replace("https://", `https://plexus:${urlPassword}@`);
      return stringify(withUser(doc, doc.users[0]?.user ?? {}, server));
    },
    secrets: [urlPassword],
  },
  {
    title: "user:password in a plain-http server URL (refused)",
    kubeconfig: async (doc) => stringify(withUser(doc, { token }, `http://plexus:${urlPassword}@127.0.0.1:1`)),
    secrets: [token, urlPassword],
  },
  {
    title: "user:password in a server URL of another scheme (refused)",
    kubeconfig: async (doc) => stringify(withUser(doc, { token }, `ftp://plexus:${urlPassword}@127.0.0.1:1`)),
    secrets: [token, urlPassword],
  },
  {
    title: "basic-auth fields, the server down, in a kubeconfig that does not parse",
    kubeconfig: async (doc) => brokenAfter(withUser(doc, { username: "plexus", password: fieldPassword }), "password"),
    secrets: [fieldPassword],
  },
  {
    title: "basic-auth fields, the server down",
    kubeconfig: async (doc) => stringify(withUser(doc, { username: "plexus", password: fieldPassword }, DOWN)),
    secrets: [fieldPassword],
  },
  {
    title: "a kubeconfig that does not parse says where",
    kubeconfig: async (doc) => brokenAfter(withUser(doc, { token }), token),
    secrets: [token],
    says: "cannot parse: bad indentation of a sequence entry at line",
  },
  {
    title: "client-key-data in a kubeconfig that does not parse",
    kubeconfig: async (doc) => brokenAfter(withUser(doc, { "client-key-data": keyData }), "client-key-data"),
    secrets: [keyData],
  },
  {
    title: "client-key-data that is not a key",
    kubeconfig: async (doc) => stringify(withUser(doc, { "client-key-data": keyData, token })),
    secrets: [keyData, token],
  },
  {
    title: "a token file the server rejects",
    kubeconfig: async (doc, dir) => {
      await writeFile(join(dir, "token-file"), `${fileToken}\n`, { mode: 0o600 });
      return stringify(withUser(doc, { tokenFile: join(dir, "token-file") }));
    },
    secrets: [fileToken],
  },
  {
    title: "a token file with a line break inside, the server down",
    kubeconfig: async (doc, dir) => {
      await writeFile(join(dir, "token-file-nl"), `${fileToken}\n${fileToken}\n`, { mode: 0o600 });
      return stringify(withUser(doc, { tokenFile: join(dir, "token-file-nl") }, DOWN));
    },
    secrets: [fileToken],
  },
  {
    title: "a kubeconfig path that names the token file",
    kubeconfig: async () => `${fileToken}\n`,
    secrets: [fileToken],
  },
  {
    title: "an exec plugin that prints the token instead of an ExecCredential",
    kubeconfig: async (doc, dir) => {
      const command = await script(dir, "exec-raw", `echo "${execToken}"`);
      const exec = { apiVersion: "client.authentication.k8s.io/v1", command, env: [{ name: "S", value: execEnv }] };
      return stringify(withUser(doc, { exec }));
    },
    secrets: [execToken, execEnv],
  },
  {
    title: "an exec plugin that fails, printing its secrets on stderr",
    kubeconfig: async (doc, dir) => {
      const command = await script(dir, "exec-fail", `echo "no luck with ${execToken} $S $1" >&2; exit 1`);
      const exec = {
        apiVersion: "client.authentication.k8s.io/v1",
        command,
        args: [execToken],
        env: [{ name: "S", value: execEnv }],
      };
      return stringify(withUser(doc, { exec }));
    },
    secrets: [execToken, execEnv],
  },
  {
    title: "an exec plugin whose token the server rejects",
    kubeconfig: async (doc, dir) => {
      const credential = JSON.stringify({
        apiVersion: "client.authentication.k8s.io/v1",
        kind: "ExecCredential",
        status: { token: execToken },
      });
      const command = await script(dir, "exec-ok", `echo '${credential}'`);
      return stringify(withUser(doc, { exec: { apiVersion: "client.authentication.k8s.io/v1", command } }));
    },
    secrets: [execToken],
  },
  {
    title: "a gcp auth-provider (its command is never run)",
    kubeconfig: async (doc, dir) => {
      const cmd = await script(dir, "gcp-fail", `echo "bad $1" >&2; exit 2`);
      const config = { "cmd-path": cmd, "cmd-args": providerSecret, "token-key": "{.token}", "expiry-key": "{.e}" };
      return stringify(withUser(doc, { "auth-provider": { name: "gcp", config } }));
    },
    secrets: [providerSecret],
    says: "the gcp auth-provider is not supported",
  },
  {
    title: "an oidc auth-provider whose issuer is down",
    kubeconfig: async (doc) => {
      const expired = [{ alg: "none" }, { exp: 1 }].map((o) => Buffer.from(JSON.stringify(o)).toString("base64url"));
      const config = {
        "client-id": "plexus",
        "client-secret": providerSecret,
        "refresh-token": token,
        "id-token": `${expired.join(".")}.${execToken}`,
        "idp-issuer-url": `https://plexus:${urlPassword}@127.0.0.1:1`,
      };
      return stringify(withUser(doc, { "auth-provider": { name: "oidc", config } }));
    },
    secrets: [providerSecret, token, execToken, urlPassword],
  },
  {
    title: "an oidc auth-provider in a kubeconfig that does not parse",
    kubeconfig: async (doc) =>
      brokenAfter(
        withUser(doc, { "auth-provider": { name: "oidc", config: { "client-secret": providerSecret } } }),
        "client-secret",
      ),
    secrets: [providerSecret],
  },
];

describe("no credential in any output, at debug level", () => {
  let h: PlexusHarness;
  let base: KubeconfigDoc;

  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("cred", "net", { cniVersion: "1.0.0", type: "recorder" });
    base = h.api.kubeconfig() as unknown as KubeconfigDoc;
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it.each(cases.map((c, i) => [c.title, i] as const))("%s", async (_title, i) => {
    const c = cases[i] as Case;
    const pod: HarnessPod = h.createPod("cred", `cred-${i}`, { [NETWORKS]: "net" });
    const kubeconfig = join(h.dir, `kubeconfig-${i}`);
    await writeFile(kubeconfig, await c.kubeconfig(base, h.dir), { mode: 0o600 });
    const logFile = join(h.dir, `cred-${i}.log`);
    const conf = h.conf({
      kubeconfig,
      logLevel: "debug",
      logFile,
      logToStderr: true,
      kubernetes: { requestTimeoutMs: 2000, retries: 1, retryBackoffMs: 10 },
    });
    const outputs: string[] = [];
    for (const command of ["ADD", "DEL", "CHECK"]) {
      const out = await h.call(command, pod, { conf });
      outputs.push(out.stdout, out.stderr);
      if (command === "ADD" && c.says) expect(out.stdout).toContain(c.says);
    }
    const log = await readFile(logFile, "utf8");
    // The runs did reach the API client (and logged at debug level): the case tests something.
    expect(log).toMatch(/"level":20/);
    for (const text of [log, ...outputs]) {
      for (const s of c.secrets) {
        expect(leakedPiece(text, s), `a piece of ${s} in:\n${text}`).toBeUndefined();
        expect(text).not.toContain(Buffer.from(`plexus:${s}`).toString("base64"));
      }
    }
  });
});
