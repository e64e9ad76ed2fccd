// Reading pino's JSON lines the way a strict log pipeline would: a key that appears twice in one
// object is a defect (JSON.parse keeps the last, other readers the first or both).
//
//   duplicateKeys(line)   the keys repeated within any object of one JSON line ("" if none)

/** Repeated keys of every object in `line`, as "path.key"; throws on text that is not JSON. */
export function duplicateKeys(line: string): string[] {
  const found: string[] = [];
  let i = 0;
  const ws = (): void => {
    while (i < line.length && /\s/.test(line[i] as string)) i++;
  };
  const string = (): string => {
    if (line[i] !== '"') throw new Error(`expected a string at ${i}: ${line}`);
    const start = i++;
    while (line[i] !== '"') {
      if (i >= line.length) throw new Error(`unterminated string: ${line}`);
      i += line[i] === "\\" ? 2 : 1;
    }
    i++;
    return JSON.parse(line.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = line[i];
    if (c === "{") {
      i++;
      const keys = new Set<string>();
      ws();
      if (line[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        const key = string();
        if (keys.has(key)) found.push(path ? `${path}.${key}` : key);
        keys.add(key);
        ws();
        if (line[i++] !== ":") throw new Error(`expected ':' at ${i - 1}: ${line}`);
        value(path ? `${path}.${key}` : key);
        ws();
        const next = line[i++];
        if (next === "}") return;
        if (next !== ",") throw new Error(`expected ',' or '}' at ${i - 1}: ${line}`);
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (line[i] === "]") {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        const next = line[i++];
        if (next === "]") return;
        if (next !== ",") throw new Error(`expected ',' or ']' at ${i - 1}: ${line}`);
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const m = /^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null)/.exec(line.slice(i));
    if (!m) throw new Error(`unexpected text at ${i}: ${line}`);
    i += m[0].length;
  };
  value("");
  ws();
  if (i !== line.length) throw new Error(`trailing text at ${i}: ${line}`);
  return found;
}
