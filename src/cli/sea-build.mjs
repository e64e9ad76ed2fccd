// npm run build: the plexus executable.
//   dist/plexus.cjs      the CLI, one CommonJS bundle (esbuild)
//   dist/k8s-client.cjs  the Kubernetes client (src/k8s/client.ts), a bundle of its own: most
//                        invocations never talk to the API, and compiling client-node on every
//                        one of them cost 60-80 ms of CPU
//   dist/k8s-client.cache  V8 code cache of that bundle, made by this same node binary
//   dist/plexus          Node single executable built from a V8 startup snapshot of plexus.cjs:
//                        the modules are loaded and initialised here, once, and every
//                        invocation starts from that heap (150 ms -> 50 ms for VERSION on this
//                        machine). The two k8s files ride along as assets. Written to a temp
//                        file and renamed into place (never over a binary being executed).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import vm from "node:vm";
import { build } from "esbuild";

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

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  legalComments: "none",
  logLevel: "warning",
};
mkdirSync("dist", { recursive: true });

await build({
  ...common,
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/plexus.cjs",
  // Loaded at run time from dist/k8s-client.cjs or the executable's assets (src/cli/k8s-loader.ts).
  external: ["../k8s/client.js"],
  define: { PLEXUS_BUNDLED: "true", PLEXUS_BUILD_COMMIT: JSON.stringify(buildCommit()) },
});
await build({ ...common, entryPoints: ["src/k8s/client.ts"], outfile: "dist/k8s-client.cjs" });

// The wrapper must be byte for byte the one src/cli/k8s-loader.ts compiles.
const code = readFileSync("dist/k8s-client.cjs", "utf8");
const wrapper = `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
const script = new vm.Script(wrapper, { filename: "k8s-client.cjs" });
script.runInThisContext(); // compile the wrapper function eagerly so the cache holds it
writeFileSync("dist/k8s-client.cache", script.createCachedData());

const seaConfig = {
  main: "dist/plexus.cjs",
  output: "dist/plexus.blob",
  disableExperimentalSEAWarning: true,
  useSnapshot: true,
  assets: { "k8s-client.cjs": "dist/k8s-client.cjs", "k8s-client.cache": "dist/k8s-client.cache" },
};
writeFileSync("dist/sea-config.json", JSON.stringify(seaConfig));
// The snapshot builder warns about built-in modules it has not "fully verified"; the test
// suite runs against this executable, so its output is kept only for a failure.
try {
  execFileSync(process.execPath, ["--experimental-sea-config", "dist/sea-config.json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
} catch (err) {
  process.stderr.write(String(err.stderr ?? err));
  throw err;
}
const tmp = `dist/plexus.${process.pid}.tmp`;
copyFileSync(process.execPath, tmp);
execFileSync(
  "node_modules/.bin/postject",
  [tmp, "NODE_SEA_BLOB", "dist/plexus.blob", "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"],
  {
    stdio: ["ignore", "ignore", "pipe"],
  },
);
renameSync(tmp, "dist/plexus");
rmSync("dist/plexus.blob", { force: true });
rmSync("dist/sea-config.json", { force: true });
