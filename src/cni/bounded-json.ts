// JSON.parse with a size and nesting bound, checked before parsing. Annotations and NAD configs
// are user input: a 10 MB value or one nested 100 000 deep must fail in linear time with a
// message, not later as a stack overflow in JSON.stringify (which recurses in V8).

export interface JsonBounds {
  /** UTF-8 bytes. */
  readonly maxBytes: number;
  /** Open brackets and braces that may be open at once. */
  readonly maxDepth: number;
}

export type BoundedParse =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problem: string };

/** Size first (one length check for absurd inputs), then one linear scan for depth, then JSON.parse. */
export function parseBoundedJson(text: string, bounds: JsonBounds): BoundedParse {
  const tooLarge = sizeProblem(text, bounds.maxBytes);
  if (tooLarge) return { ok: false, problem: tooLarge };
  if (jsonDepthExceeds(text, bounds.maxDepth)) {
    return { ok: false, problem: `JSON is nested deeper than ${bounds.maxDepth} levels` };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, problem: `invalid JSON: ${(err as Error).message}` };
  }
}

/** Why `text` is larger than `maxBytes` UTF-8 bytes, or undefined. */
export function sizeProblem(text: string, maxBytes: number): string | undefined {
  // A UTF-16 unit is at least one UTF-8 byte: a long string is too large without encoding it.
  if (text.length > maxBytes || Buffer.byteLength(text, "utf8") > maxBytes) {
    return `value is larger than ${maxBytes} bytes`;
  }
  return undefined;
}

/** True when more than `maxDepth` arrays/objects are open at some point (strings skipped). */
function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}
