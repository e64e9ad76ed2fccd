// A minimal ustar writer: regular files and directories, nothing else. Enough for an OCI image
// layer holding one static binary and for the OCI image layout tarball around it. Output is
// deterministic (fixed mtime, uid/gid 0), so the same input always has the same sha256 digest.

export type TarEntry =
  | { readonly type: "file"; readonly name: string; readonly mode: number; readonly data: Buffer }
  | { readonly type: "dir"; readonly name: string; readonly mode: number };

const BLOCK = 512;
// Any fixed time keeps digests stable; 0 would make some tools print 1970 warnings.
const MTIME = 1_700_000_000;

export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === "file" ? entry.data : Buffer.alloc(0);
    parts.push(header(entry, data.length), data, Buffer.alloc(padding(data.length)));
  }
  // End of archive: two zero blocks.
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function header(entry: TarEntry, size: number): Buffer {
  const name = entry.type === "dir" && !entry.name.endsWith("/") ? `${entry.name}/` : entry.name;
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name longer than 100 bytes: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  octal(h, 100, 8, entry.mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, MTIME);
  h.write(entry.type === "dir" ? "5" : "0", 156, 1, "ascii");
  h.write("ustar\u0000", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write("root", 265, 32, "ascii");
  h.write("root", 297, 32, "ascii");
  // The checksum is computed with its own field read as eight spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
  return h;
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(`${value.toString(8).padStart(width - 1, "0")}\u0000`, offset, width, "ascii");
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
