import { link, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkNotNested,
  checkNotSelfName,
  createSelfFileCheck,
  markNested,
  selfIdentity,
} from "../../src/runtime/self-delegate.js";
import { cniFailure } from "../support/cni-plugins.js";
import { thrown } from "../support/cni-error.js";

describe("selfIdentity", () => {
  it("names plexus and plexus-thin in every bin dir, and nothing else without an executable", () => {
    expect(selfIdentity(["/opt/cni/bin", "/usr/lib/cni"])).toEqual({
      names: ["plexus", "plexus-thin"],
      files: ["/opt/cni/bin/plexus", "/opt/cni/bin/plexus-thin", "/usr/lib/cni/plexus", "/usr/lib/cni/plexus-thin"],
    });
  });

  it("adds the running executable: its name, its file and /proc/self/exe", () => {
    expect(selfIdentity(["/b"], "/opt/cni/bin/multus")).toEqual({
      names: ["plexus", "plexus-thin", "multus"],
      files: ["/opt/cni/bin/multus", "/proc/self/exe", "/b/plexus", "/b/plexus-thin", "/b/multus"],
    });
  });
});

describe("checkNotSelfName", () => {
  const self = selfIdentity([], "/x/plexus-renamed");
  it.each(["plexus", "plexus-thin", "plexus-renamed"])("refuses %j with code 7", (type) => {
    const err = thrown(() => checkNotSelfName(type, self));
    expect(err.code).toBe(7);
    expect(err.msg).toMatch(new RegExp(`^plugin type "${type}" is Plexus itself: `));
  });
  it.each(["macvlan", "Plexus", "plexus2", "multus"])("allows %j", (type) => {
    expect(() => checkNotSelfName(type, self)).not.toThrow();
  });
});

describe("createSelfFileCheck", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "plexus-self-"));
    await writeFile(join(dir, "plexus"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(join(dir, "other"), "#!/bin/sh\n", { mode: 0o755 });
    await link(join(dir, "plexus"), join(dir, "hard"));
    await symlink(join(dir, "plexus"), join(dir, "soft"));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses a hard or symbolic link to one of Plexus's files, naming both", async () => {
    const check = createSelfFileCheck(selfIdentity([dir]));
    for (const name of ["hard", "soft"]) {
      const err = await cniFailure(check(name, join(dir, name)));
      expect(err.code).toBe(7);
      expect(err.msg).toContain(`(${join(dir, name)} is the same file as ${join(dir, "plexus")})`);
    }
  });

  it("allows another file with the same content, and a file that does not exist", async () => {
    const check = createSelfFileCheck(selfIdentity([dir]));
    await expect(check("other", join(dir, "other"))).resolves.toBeUndefined();
    await expect(check("gone", join(dir, "gone"))).resolves.toBeUndefined();
  });
});

describe("nesting", () => {
  it("marks a delegate's environment and keeps the rest", () => {
    expect(markNested({ PATH: "/bin", CNI_COMMAND: "ADD" })).toEqual({
      PATH: "/bin",
      CNI_COMMAND: "ADD",
      PLEXUS_DEPTH: "1",
    });
  });

  it.each(["ADD", "DEL", "CHECK", "STATUS", "GC"])("refuses %s when PLEXUS_DEPTH is set", (command) => {
    const err = thrown(() => checkNotNested({ PLEXUS_DEPTH: "1" }, command));
    expect(err.code).toBe(7);
    expect(err.msg).toMatch(/^Plexus was executed as a delegate plugin of Plexus \(PLEXUS_DEPTH=1\)/);
  });

  it("lets VERSION answer, and an unset or empty PLEXUS_DEPTH through", () => {
    expect(() => checkNotNested({ PLEXUS_DEPTH: "1" }, "VERSION")).not.toThrow();
    expect(() => checkNotNested({}, "ADD")).not.toThrow();
    expect(() => checkNotNested({ PLEXUS_DEPTH: "" }, "ADD")).not.toThrow();
  });
});
