// Credentials never reach a message. The API client's errors end up in the CNI error on stdout,
// on stderr and in the log, so every text built from what the kubeconfig or the network gave us
// passes through a Redactor first: user:password in any URL, and any 8 characters of a
// credential the kubeconfig holds (a parser's or a library's error may quote a piece of it).
// What a credential plugin printed is never quoted at all: it may be the credential itself.

export type Redactor = (text: string) => string;

export const REDACTED = "[redacted]";
/** Pieces this long of a known secret are redacted wherever they appear. */
const PIECE = 8;
/** A secret shorter than this is too short to search for without mangling every message. */
const MIN_SECRET = 4;

/** `scheme://user:password@host` anywhere in `text` loses its user information. */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]*@/gi, `$1${REDACTED}@`);
}

/** A redactor for these secret values (and for credentials in URLs). */
export function createRedactor(secrets: Iterable<string>): Redactor {
  const pieces = new Set<string>();
  const short: string[] = [];
  for (const s of secrets) {
    if (s.length >= PIECE) for (let i = 0; i + PIECE <= s.length; i++) pieces.add(s.slice(i, i + PIECE));
    else if (s.length >= MIN_SECRET) short.push(s);
  }
  return (text) => {
    let out = redactUrlCredentials(text);
    if (pieces.size > 0) out = redactPieces(out, pieces);
    for (const s of short) out = out.split(s).join(REDACTED);
    return out;
  };
}

/** Every stretch of `text` covered by a known piece becomes one REDACTED. */
function redactPieces(text: string, pieces: ReadonlySet<string>): string {
  const covered = new Uint8Array(text.length);
  let any = false;
  for (let i = 0; i + PIECE <= text.length; i++) {
    if (pieces.has(text.slice(i, i + PIECE))) {
      covered.fill(1, i, i + PIECE);
      any = true;
    }
  }
  if (!any) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (!covered[i]) out += text[i];
    else if (i === 0 || !covered[i - 1]) out += REDACTED;
  }
  return out;
}

/**
 * A copy of an error (and of its causes) whose messages went through `redact`, keeping the name
 * and the errno-style `code` the error kinds are decided on. Stacks are dropped: they repeat
 * the message.
 */
export function redactError(err: unknown, redact: Redactor, depth = 0): Error {
  const source = err instanceof Error ? err : new Error(String(err));
  const cause = source.cause !== undefined && depth < 8 ? redactError(source.cause, redact, depth + 1) : undefined;
  const copy = new Error(redact(source.message), cause ? { cause } : {});
  copy.name = source.name;
  copy.stack = `${copy.name}: ${copy.message}`;
  const code = (source as NodeJS.ErrnoException).code;
  if (typeof code === "string") (copy as NodeJS.ErrnoException).code = code;
  return copy;
}
