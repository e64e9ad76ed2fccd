// A minimal ASN.1 DER encoder: just the types an X.509 v3 certificate needs (X.690 §8, §10).
// Hand-written because the task forbids the openssl CLI and new npm packages for TLS.

/** One encoded TLV, ready to be nested. */
export type Der = Buffer;

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A TLV with the given tag byte around the given content. */
function tlv(tag: number, content: Buffer): Der {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: readonly Der[]): Der {
  return tlv(0x30, Buffer.concat(items));
}

export function set(...items: readonly Der[]): Der {
  return tlv(0x31, Buffer.concat(items));
}

export function boolean(value: boolean): Der {
  return tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
}

/** A non-negative INTEGER from big-endian magnitude bytes (a 0x00 is prepended when the top bit is set). */
export function unsignedInteger(magnitude: Buffer): Der {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const needsPad = ((trimmed[0] ?? 0) & 0x80) !== 0;
  return tlv(0x02, needsPad ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export function smallInteger(value: number): Der {
  return unsignedInteger(Buffer.from([value]));
}

export function objectIdentifier(dotted: string): Der {
  const arcs = dotted.split(".").map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [first * 40 + second];
  for (const arc of rest) {
    const chunk: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

export function utf8String(value: string): Der {
  return tlv(0x0c, Buffer.from(value, "utf8"));
}

export function octetString(value: Buffer): Der {
  return tlv(0x04, value);
}

/** A BIT STRING with no unused bits (signatures, key material). */
export function bitString(value: Buffer): Der {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), value]));
}

/**
 * A BIT STRING of named bits (KeyUsage), DER form: trailing zero bits dropped (X.690 §11.2.2).
 * bits[i] is bit i counted from the most significant bit of the first byte.
 */
export function namedBits(bits: readonly number[]): Der {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)]! |= 0x80 >> (bit % 8);
  const unused = 7 - (highest % 8);
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}

/** UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5). */
export function time(date: Date): Der {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  if (date.getUTCFullYear() < 2050) return tlv(0x17, Buffer.from(iso.slice(2), "ascii"));
  return tlv(0x18, Buffer.from(iso, "ascii"));
}

/** [n] EXPLICIT: a constructed context tag around an encoded element. */
export function explicit(tagNumber: number, inner: Der): Der {
  return tlv(0xa0 | tagNumber, inner);
}

/** [n] IMPLICIT primitive: a context tag replacing the universal tag of raw content. */
export function implicitPrimitive(tagNumber: number, content: Buffer): Der {
  return tlv(0x80 | tagNumber, content);
}
