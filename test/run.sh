#!/usr/bin/env bash
# The test command (README "Tests"): from a clean clone, as root, installs what the tests need,
# builds, runs every tier (unit, integration, netns, e2e) and ends with one line of totals:
# "N passed, N failed". Skipped tests count as failed under CI=true: every tier must run there.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "test/run.sh: run as root (the netns and e2e tiers create network namespaces and run containerd)" >&2
  exit 1
fi

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
bash .ci/e2e-prereqs.sh || { echo "installing system packages failed" >&2; exit 1; }

step "npm dependencies"
# A clean clone (and CI) always gets `npm ci`; a working tree only when the lockfile changed.
if [ "${CI:-}" = true ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund || exit 1
fi

step "typecheck"
npm run --silent typecheck || exit 1

step "format"
npm run --silent format:check || exit 1

step "build"
# The executables (npm run build) and the image the e2e tier runs (dist/plexus-image.oci.tar).
npm run --silent image || exit 1

step "tests"
mkdir -p .vitest-report
rm -f .vitest-report/report.json
npx vitest run --config test/vitest.config.ts --reporter=default --reporter=json --outputFile.json=.vitest-report/report.json "$@"
vitest_status=$?

step "summary"
node test/support/summarize.mjs .vitest-report/report.json
summary_status=$?
[ "$vitest_status" = 0 ] && [ "$summary_status" = 0 ]
