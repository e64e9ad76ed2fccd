// A throwaway PKI for the local API server: a self-signed CA and a serving certificate signed by
// it, ECDSA P-256, made with node:crypto and the DER encoder (no openssl CLI, no npm package).
// Clients verify the server with the CA from the kubeconfig, exactly as against a real cluster.
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { isIP } from "node:net";
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  namedBits,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./tls-der.js";
import type { Der } from "./tls-der.js";

export interface TlsMaterial {
  /** PEM of the self-signed CA: what a kubeconfig carries as certificate-authority-data. */
  readonly caCertPem: string;
  /** PEM of the serving certificate (signed by the CA). */
  readonly certPem: string;
  /** PKCS#8 PEM of the serving key. */
  readonly keyPem: string;
}

export interface TlsOptions {
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly validDays?: number;
  readonly now?: Date;
}

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

// KeyUsage bit numbers (RFC 5280 §4.2.1.3).
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

interface CertSpec {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectKeys: KeyPair;
  readonly issuerKeys: KeyPair;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly Der[];
}

export function generateTlsMaterial(options: TlsOptions = {}): TlsMaterial {
  const now = options.now ?? new Date();
  // Backdated an hour so that a client clock slightly behind still accepts the certificate.
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + (options.validDays ?? 365) * 86_400_000);
  const caKeys = newKeyPair();
  const serverKeys = newKeyPair();
  const caName = "plexus-local-ca";
  const caCert = buildCertificate({
    subject: caName,
    issuer: caName,
    subjectKeys: caKeys,
    issuerKeys: caKeys,
    notBefore,
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, sequence(boolean(true))),
      extension(OID.keyUsage, true, namedBits([DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN])),
      extension(OID.subjectKeyId, false, octetString(keyId(caKeys.publicKey))),
    ],
  });
  const serverCert = buildCertificate({
    subject: "plexus-local-apiserver",
    issuer: caName,
    subjectKeys: serverKeys,
    issuerKeys: caKeys,
    notBefore,
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.keyUsage, true, namedBits([DIGITAL_SIGNATURE])),
      extension(OID.extKeyUsage, false, sequence(objectIdentifier(OID.serverAuth))),
      extension(
        OID.subjectAltName,
        false,
        subjectAltNames(options.dnsNames ?? ["localhost"], options.ipAddresses ?? ["127.0.0.1", "::1"]),
      ),
      extension(OID.authorityKeyId, false, sequence(implicitPrimitive(0, keyId(caKeys.publicKey)))),
    ],
  });
  return {
    caCertPem: toPem("CERTIFICATE", caCert),
    certPem: toPem("CERTIFICATE", serverCert),
    keyPem: serverKeys.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function newKeyPair(): KeyPair {
  return generateKeyPairSync("ec", { namedCurve: "P-256" });
}

function buildCertificate(spec: CertSpec): Buffer {
  const algorithm = sequence(objectIdentifier(OID.ecdsaWithSha256));
  // Serial: 16 random bytes, top bit cleared so it stays positive (Go rejects negative serials).
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    algorithm,
    distinguishedName(spec.issuer),
    sequence(time(spec.notBefore), time(spec.notAfter)),
    distinguishedName(spec.subject),
    spec.subjectKeys.publicKey.export({ type: "spki", format: "der" }),
    explicit(3, sequence(...spec.extensions)),
  );
  const signature = sign("sha256", tbs, { key: spec.issuerKeys.privateKey, dsaEncoding: "der" });
  return sequence(tbs, algorithm, bitString(signature));
}

function distinguishedName(commonName: string): Der {
  return sequence(
    set(sequence(objectIdentifier(OID.organization), utf8String("plexus"))),
    set(sequence(objectIdentifier(OID.commonName), utf8String(commonName))),
  );
}

function extension(oid: string, critical: boolean, value: Der): Der {
  return critical
    ? sequence(objectIdentifier(oid), boolean(true), octetString(value))
    : sequence(objectIdentifier(oid), octetString(value));
}

function subjectAltNames(dnsNames: readonly string[], ipAddresses: readonly string[]): Der {
  // GeneralName: dNSName [2] IA5String, iPAddress [7] OCTET STRING (RFC 5280 §4.2.1.6).
  return sequence(
    ...dnsNames.map((name) => implicitPrimitive(2, Buffer.from(name, "ascii"))),
    ...ipAddresses.map((ip) => implicitPrimitive(7, ipBytes(ip))),
  );
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyId(publicKey: KeyObject): Buffer {
  const point = publicKey.export({ format: "jwk" });
  const raw = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(point.x ?? "", "base64url"),
    Buffer.from(point.y ?? "", "base64url"),
  ]);
  return createHash("sha1").update(raw).digest();
}

function ipBytes(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split(".").map(Number));
  if (family !== 6) throw new TypeError(`not an IP address: ${ip}`);
  const [head = "", tail] = ip.split("::");
  const groups = (part: string): number[] => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const middle: number[] = new Array<number>(8 - front.length - back.length).fill(0);
  const all = [...front, ...middle, ...back];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
