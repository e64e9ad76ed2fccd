// Reads vitest's JSON report and prints the totals per tier, then one last line that CI reads:
// "N passed, N failed". Under CI=true a skipped test is a failed one: every tier must run.
import { readFileSync } from "node:fs";

const path = process.argv[2] ?? ".vitest-report/report.json";
let report;
try {
  report = JSON.parse(readFileSync(path, "utf8"));
} catch (err) {
  console.log(`no test report at ${path}: ${err.message}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

const strict = process.env.CI === "true";
const tiers = new Map();
let failedFiles = 0;
for (const file of report.testResults ?? []) {
  const tier = /\/test\/([^/]+)\//.exec(file.name)?.[1] ?? "other";
  const t = tiers.get(tier) ?? { passed: 0, failed: 0, skipped: 0 };
  for (const a of file.assertionResults ?? []) {
    if (a.status === "passed") t.passed++;
    else if (a.status === "failed") t.failed++;
    else t.skipped++;
  }
  // A file that failed to load has no assertions but did fail.
  if (file.status === "failed" && (file.assertionResults ?? []).length === 0) {
    t.failed++;
    failedFiles++;
  }
  tiers.set(tier, t);
}

let passed = 0;
let failed = 0;
const TIERS = ["unit", "integration", "netns", "fault", "fuzz", "e2e"];
for (const tier of [...TIERS, ...[...tiers.keys()].filter((k) => !TIERS.includes(k))]) {
  const t = tiers.get(tier) ?? { passed: 0, failed: 0, skipped: 0 };
  console.log(
    `${tier.padEnd(12)} ${String(t.passed).padStart(5)} passed ${String(t.failed).padStart(4)} ` +
      `failed ${String(t.skipped).padStart(4)} skipped`,
  );
  passed += t.passed;
  failed += t.failed + (strict ? t.skipped : 0);
}
// What tests measured for the run to show (test/support/report.ts).
for (const file of report.testResults ?? []) {
  for (const a of file.assertionResults ?? []) {
    if (typeof a.meta?.report === "string") console.log(`reported: ${a.meta.report}`);
  }
}
if (failedFiles) console.log(`${failedFiles} test file(s) failed to run`);
if (strict) console.log("(CI=true: skipped tests are counted as failed)");
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
