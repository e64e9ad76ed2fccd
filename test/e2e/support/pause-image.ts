// The CRI plugin's sandbox image, made here because no registry is reachable: the static
// pause binary from test/e2e/fixtures/pause/pause.c in an OCI image layout tarball, cached by
// content. The image name carries the layer digest, so a changed pause.c is a new image.
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildOciImageLayout } from "./oci-image.js";
import { buildStaticBinary, defaultCacheDir, fixturePath } from "./static-binary.js";

export interface PauseImage {
  /** The reference to put in the CRI plugin's sandbox_image. */
  readonly name: string;
  /** The OCI image layout tarball for `ctr images import`. */
  readonly tarPath: string;
}

export async function buildPauseImage(cacheDir = defaultCacheDir()): Promise<PauseImage> {
  const binary = await buildStaticBinary(fixturePath("pause", "pause.c"), "pause", cacheDir);
  const data = await readFile(binary);
  // The name must not depend on the digest it is part of: build once to learn the layer
  // digest, then again with the final name (only index.json changes).
  const probe = buildOciImageLayout({
    name: "probe:probe",
    files: [{ path: "pause", mode: 0o755, data }],
    entrypoint: ["/pause"],
  });
  const tag = probe.layerDigest.slice("sha256:".length, "sha256:".length + 12);
  const name = `localhost/plexus-e2e/pause:${tag}`;
  const tarPath = join(cacheDir, `pause-image-${tag}.tar`);
  if (!(await exists(tarPath))) {
    const layout = buildOciImageLayout({ name, files: [{ path: "pause", mode: 0o755, data }], entrypoint: ["/pause"] });
    await mkdir(cacheDir, { recursive: true });
    const partial = `${tarPath}.${process.pid}.partial`;
    await writeFile(partial, layout.tar);
    await rename(partial, tarPath);
  }
  return { name, tarPath };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
