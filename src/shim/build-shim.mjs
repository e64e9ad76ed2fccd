// npm run build (after src/cli/sea-build.mjs): the native executables of daemon mode, beside
// dist/plexus. One C file each, static (the CNI bin dir of a host has no libc we may rely on),
// warnings are errors, the usual hardening: fortified libc calls, stack protector, a static PIE
// with full RELRO and no executable stack.
//   dist/plexus-shim      the CNI plugin of daemon mode (src/shim/plexus-shim.c)
//   dist/plexus-hostexec  runs a delegate in the host's root or mount namespace (plexus-hostexec.c)
// Written to a temp file and renamed into place (never over a binary being executed).
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync } from "node:fs";

const CC = process.env.CC ?? "gcc";
const FLAGS = [
  "-std=gnu11",
  "-O2",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-D_FORTIFY_SOURCE=2",
  "-fstack-protector-strong",
  "-fPIE",
  "-static-pie",
  "-Wl,-z,relro,-z,now,-z,noexecstack",
  "-s",
];

mkdirSync("dist", { recursive: true });
for (const name of ["plexus-shim", "plexus-hostexec"]) {
  const tmp = `dist/${name}.${process.pid}.tmp`;
  try {
    execFileSync(CC, [...FLAGS, "-o", tmp, `src/shim/${name}.c`], { stdio: ["ignore", "inherit", "inherit"] });
  } catch (err) {
    rmSync(tmp, { force: true });
    process.stderr.write(
      `building dist/${name} needs ${CC} and a static libc (Debian: gcc libc6-dev; .ci/e2e-prereqs.sh installs them)\n`,
    );
    throw err;
  }
  renameSync(tmp, `dist/${name}`);
}
