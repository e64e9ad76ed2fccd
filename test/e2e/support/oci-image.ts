// Packs files into an OCI image layout tarball that `ctr images import` accepts: one
// uncompressed layer, an image config, a manifest and an index.json whose manifest carries the
// `io.containerd.image.name` annotation (the name containerd registers the image under).
// Every blob is named by its sha256, computed here with node:crypto.
import { createHash } from "node:crypto";
import { writeTar } from "./tar-writer.js";

export interface ImageFile {
  /** Path inside the image, without a leading slash. */
  readonly path: string;
  readonly mode: number;
  readonly data: Buffer;
}

export interface OciImageSpec {
  /** Full reference, e.g. "localhost/plexus-e2e/pause:3f2a...". */
  readonly name: string;
  readonly files: readonly ImageFile[];
  readonly entrypoint: readonly string[];
}

export interface OciImageLayout {
  readonly tar: Buffer;
  readonly manifestDigest: string;
  readonly layerDigest: string;
}

interface Blob {
  readonly digest: string;
  readonly size: number;
  readonly data: Buffer;
}

const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
} as const;

export function buildOciImageLayout(spec: OciImageSpec): OciImageLayout {
  const platform = { architecture: ociArchitecture(process.arch), os: "linux" };
  // Uncompressed layer: its digest is also its diff_id.
  const layer = blob(
    writeTar(spec.files.map((f) => ({ type: "file" as const, name: f.path, mode: f.mode, data: f.data }))),
  );
  const config = blob(
    json({
      ...platform,
      config: { Entrypoint: spec.entrypoint, WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [layer.digest] },
      history: [{ created_by: "plexus e2e harness (test/e2e/support/oci-image.ts)" }],
    }),
  );
  const manifest = blob(
    json({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: config.digest, size: config.size },
      layers: [{ mediaType: MEDIA.layer, digest: layer.digest, size: layer.size }],
    }),
  );
  const index = json({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        mediaType: MEDIA.manifest,
        digest: manifest.digest,
        size: manifest.size,
        platform,
        annotations: {
          "io.containerd.image.name": spec.name,
          "org.opencontainers.image.ref.name": spec.name.slice(spec.name.lastIndexOf(":") + 1),
        },
      },
    ],
  });
  const blobs = [layer, config, manifest];
  const tar = writeTar([
    { type: "file", name: "oci-layout", mode: 0o644, data: json({ imageLayoutVersion: "1.0.0" }) },
    { type: "file", name: "index.json", mode: 0o644, data: index },
    { type: "dir", name: "blobs", mode: 0o755 },
    { type: "dir", name: "blobs/sha256", mode: 0o755 },
    ...blobs.map((b) => ({
      type: "file" as const,
      name: `blobs/sha256/${b.digest.slice("sha256:".length)}`,
      mode: 0o644,
      data: b.data,
    })),
  ]);
  return { tar, manifestDigest: manifest.digest, layerDigest: layer.digest };
}

function blob(data: Buffer): Blob {
  return { digest: `sha256:${createHash("sha256").update(data).digest("hex")}`, size: data.length, data };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** Node's process.arch to the OCI/Go GOARCH names containerd matches platforms with. */
export function ociArchitecture(arch: string): string {
  const known: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
  };
  const mapped = known[arch];
  if (mapped === undefined) throw new Error(`no OCI architecture known for node arch ${arch}`);
  return mapped;
}
