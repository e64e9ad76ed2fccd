// Installs and reads the recording CNI plugin (test/e2e/fixtures/cni-recorder): one JSON
// record per call with the command, the whole environment and stdin as the runtime sent them.
import { chmod, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { fixturePath } from "./static-binary.js";

export interface CniCall {
  readonly command: string;
  /** Wall-clock ms; calls are ordered by the monotonic clock, not by this. */
  readonly time: number;
  readonly env: Readonly<Record<string, string>>;
  /** CNI_ARGS split into key/value pairs (their order varies between calls). */
  readonly args: Readonly<Record<string, string>>;
  /** stdin parsed as JSON (the netconf with runtimeConfig and prevResult), or the raw text. */
  readonly stdin: unknown;
}

const record = z.object({
  command: z.string(),
  time: z.number(),
  hrtime: z.string(),
  env: z.record(z.string(), z.string()),
  stdin: z.string(),
});

/** Copies the recorder into `binDir` as `name`, run by this test's node binary. */
export async function installCniRecorder(binDir: string, name = "cni-recorder"): Promise<string> {
  const source = await readFile(fixturePath("cni-recorder", "cni-recorder.mjs"), "utf8");
  // containerd gives plugins a PATH without the test's node: name it absolutely.
  const text = source.replace(/^#!.*\n/, `#!${process.execPath}\n`);
  const target = join(binDir, name);
  await mkdir(binDir, { recursive: true });
  await writeFile(target, text);
  await chmod(target, 0o755);
  return target;
}

export async function readCniCalls(recordDir: string): Promise<CniCall[]> {
  const calls: { hr: bigint; call: CniCall }[] = [];
  for (const file of await readdir(recordDir)) {
    if (!file.endsWith(".json")) continue;
    const r = record.parse(JSON.parse(await readFile(join(recordDir, file), "utf8")));
    calls.push({
      hr: BigInt(r.hrtime),
      call: {
        command: r.command,
        time: r.time,
        env: r.env,
        args: parseCniArgs(r.env["CNI_ARGS"] ?? ""),
        stdin: parseJson(r.stdin),
      },
    });
  }
  return calls.sort((a, b) => (a.hr < b.hr ? -1 : a.hr > b.hr ? 1 : 0)).map((c) => c.call);
}

export function parseCniArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of text.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    args[eq < 0 ? pair : pair.slice(0, eq)] = eq < 0 ? "" : pair.slice(eq + 1);
  }
  return args;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
