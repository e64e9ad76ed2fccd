// The state directory holds only what Plexus wrote there: through dist/plexus, a symbolic link,
// a FIFO or a file owned by another user in place of a container directory or a record is
// refused with a clear error naming it, nothing is written, renamed or deleted through a link,
// and no file's content reaches stdout.

import { execFileSync } from "node:child_process";
import { chown, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../support/root.js";
import {
  callsOf,
  NETWORKS,
  recorderNad,
  netResult,
  startPlexusHarness,
  wireError,
  type HarnessPod,
  type PlexusHarness,
} from "./plexus-harness.js";

const SECRET = "TOPSECRET-0123456789-abcdefghij";

describe.skipIf(!isRoot)("plexus and its state directory", () => {
  let h: PlexusHarness;
  let seq = 0;

  beforeAll(async () => {
    h = await startPlexusHarness();
    h.createNad("sd", "net-a", recorderNad({ result: netResult("net1", "198.18.1.2/24") }));
    await mkdir(h.stateDir, { recursive: true, mode: 0o700 });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  const pod = (): HarnessPod => h.createPod("sd", `p-${++seq}`, { [NETWORKS]: "net-a" });

  async function added(): Promise<HarnessPod> {
    const p = pod();
    const out = await h.call("ADD", p);
    expect(out.code, out.stdout).toBe(0);
    return p;
  }

  it("a container directory that is a symbolic link: ADD and DEL refuse it by name and touch nothing behind it", async () => {
    const p = pod();
    const target = join(h.dir, `elsewhere-${seq}`);
    await mkdir(target);
    await writeFile(join(target, "victim.json"), '{"keep": true}\n');
    await symlink(target, join(h.stateDir, p.containerId));
    await h.resetCalls();
    for (const command of ["ADD", "DEL", "CHECK"]) {
      const out = await h.call(command, p);
      const err = wireError(out);
      expect(err.code, command).toBe(5);
      expect(err.msg).toContain(join(h.stateDir, p.containerId));
      expect(err.msg).toMatch(/symbolic link/);
    }
    expect(callsOf(h.calls(), "ADD")).toEqual([]);
    expect(callsOf(h.calls(), "DEL")).toEqual([]);
    expect(await readdir(target)).toEqual(["victim.json"]);
    expect(await readFile(join(target, "victim.json"), "utf8")).toBe('{"keep": true}\n');
  });

  it("a record that is a symbolic link is never read through: CHECK names it, DEL works around it, the target is untouched", async () => {
    const p = await added();
    const secretFile = join(h.dir, `secret-${seq}.txt`);
    await writeFile(secretFile, SECRET);
    const record = join(h.stateDir, p.containerId, "net1.json");
    await rm(record);
    await symlink(secretFile, record);
    const check = await h.call("CHECK", p);
    const err = wireError(check);
    expect(err.msg).toContain(record);
    expect(err.msg).toMatch(/symbolic link/);
    expect(check.stdout + check.stderr).not.toContain("TOPSECRET");
    const del = await h.call("DEL", p);
    expect([del.code, del.stdout]).toEqual([0, ""]);
    expect(del.stderr).not.toContain("TOPSECRET");
    expect(await readFile(secretFile, "utf8")).toBe(SECRET);
  });

  it("a record that is not JSON: the error names the file but quotes none of its content", async () => {
    const p = await added();
    const record = join(h.stateDir, p.containerId, "net1.json");
    await writeFile(record, SECRET);
    const check = await h.call("CHECK", p);
    const err = wireError(check);
    expect(err.msg).toContain(record);
    expect(err.msg).toMatch(/not JSON/);
    expect(check.stdout).not.toContain("TOPSECRET");
  });

  it("a record owned by another user is refused", async () => {
    const p = await added();
    const record = join(h.stateDir, p.containerId, "net1.json");
    await chown(record, 4242, 4242);
    const err = wireError(await h.call("CHECK", p));
    expect(err.msg).toContain(record);
    expect(err.msg).toMatch(/owned by uid 4242/);
  });

  it("a FIFO in place of a record is refused at once (never opened for a blocking read)", async () => {
    const p = await added();
    const record = join(h.stateDir, p.containerId, "net1.json");
    await rm(record);
    execFileSync("mkfifo", ["-m", "600", record]);
    const out = await h.call("CHECK", p);
    const err = wireError(out);
    expect(err.msg).toContain(record);
    expect(err.msg).toMatch(/not a regular file/);
    const del = await h.call("DEL", p);
    expect([del.code, del.stdout]).toEqual([0, ""]);
  });
});
