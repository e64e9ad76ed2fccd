// Finding a plugin by bare name (libcni pkg/invoke/find.go; docs/compatibility.md#plugin-lookup).
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CniError, ErrorCode } from "../../src/cni/error.js";
import { checkPluginType, findPlugin } from "../../src/runtime/find-plugin.js";

describe("checkPluginType", () => {
  it("the message is libcni's, the code says invalid config", () => {
    try {
      checkPluginType("../x");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).msg).toBe("invalid plugin name: ../x");
      expect((err as CniError).code).toBe(ErrorCode.InvalidNetworkConfig);
    }
  });
});

describe("findPlugin", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "plexus-find-"));
    for (const d of ["a", "b", "c"]) await mkdir(join(root, d));
    await writeFile(join(root, "a", "noexec"), "#!/bin/sh\n");
    await writeFile(join(root, "b", "noexec"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(join(root, "b", "both"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(join(root, "c", "both"), "#!/bin/sh\n", { mode: 0o755 });
    await mkdir(join(root, "a", "dir"));
    await chmod(join(root, "a", "dir"), 0o755);
    await writeFile(join(root, "c", "dir"), "#!/bin/sh\n", { mode: 0o755 });
    await symlink(join(root, "c", "both"), join(root, "a", "link"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each([
    { type: "both", want: "b/both" }, // the first directory that has it wins
    { type: "noexec", want: "b/noexec" }, // a non-executable file is passed over
    { type: "dir", want: "c/dir" }, // so is a directory
    { type: "link", want: "a/link" }, // a symlink to an executable is fine (installers use them)
  ])("$type -> $want", async ({ type, want }) => {
    expect(await findPlugin(type, [join(root, "a"), join(root, "b"), join(root, "c")])).toBe(join(root, want));
  });

  it("not found names the plugin and the path", async () => {
    const dirs = [join(root, "a"), "/nonexistent"];
    await expect(findPlugin("nosuch", dirs)).rejects.toThrow(
      `failed to find plugin "nosuch" in path [${dirs.join(" ")}]`,
    );
  });

  it("refuses a traversal even when the target exists", async () => {
    await expect(findPlugin("../b/both", [join(root, "a")])).rejects.toThrow("invalid plugin name: ../b/both");
  });
});
