// Source lines fit the formatter's width (120, .prettierrc.json). Prettier wraps code but not
// strings or comments, so this keeps the messages and comments it cannot wrap within the width
// too. Tests are left out: an expected error message reads best whole, as the plugin prints it.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const WIDTH = (JSON.parse(readFileSync(join(root, ".prettierrc.json"), "utf8")) as { printWidth: number }).printWidth;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.(ts|mjs|c|sh)$/.test(e.name) ? [path] : [];
  });
}

/** "file:line (length)" of every line of `text` wider than `width` characters. */
function wideLines(file: string, text: string, width: number): string[] {
  return text.split("\n").flatMap((line, i) => ([...line].length > width ? [`${file}:${i + 1} (${line.length})`] : []));
}

describe("line width", () => {
  it("finds a wide line where there is one", () => {
    expect(wideLines("x.ts", `ok\n${"x".repeat(WIDTH + 1)}\n${"y".repeat(WIDTH)}`, WIDTH)).toEqual([
      `x.ts:2 (${WIDTH + 1})`,
    ]);
  });

  it(`every line in src/ is at most ${WIDTH} characters`, () => {
    const files = sources(join(root, "src"));
    expect(files.length).toBeGreaterThan(10);
    expect(files.flatMap((f) => wideLines(relative(root, f), readFileSync(f, "utf8"), WIDTH))).toEqual([]);
  });
});
