// The repository's documentation stands on its own. Comments and tests cite docs/architecture.md,
// docs/compatibility.md, an upstream spec section, an upstream source file or an upstream issue:
// never notes that live outside the repository, nor the IDs of a checklist a reader cannot see.
// Every relative link in the Markdown files, and every docs/*.md#anchor a comment cites, resolves
// to a file that exists and a heading (or <a id>) that exists in it.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SELF = relative(ROOT, fileURLToPath(import.meta.url));
const SKIP_DIRS = new Set(["node_modules", "dist", ".git", ".vitest-report"]);

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...walk(path));
    } else if (entry.isFile()) out.push(path);
  }
  return out;
}

const TEXT = /\.(ts|mts|mjs|cjs|js|md|sh|json|yaml|yml|c|h|go)$/;
const markdown = walk(".").filter((f) => f.endsWith(".md"));
const sources = [...new Set([...walk("src"), ...walk("test"), ...markdown])].filter((f) => TEXT.test(f) && f !== SELF);

/** What must not be cited, and what to cite instead. */
const FORBIDDEN: readonly { readonly pattern: RegExp; readonly why: string }[] = [
  { pattern: /DESIGN\.md|\bDESIGN §/, why: "the design notes are not in the repository: cite docs/architecture.md" },
  { pattern: /STYLE\.md|\bSTYLE habit/, why: "the style notes are not in the repository: say why in words" },
  { pattern: /reference\//, why: "reference notes are not in the repository: cite the upstream spec or source" },
  {
    pattern: /\b(?:specs|multus|runtimes|kubectl|thick-mode|model-codebases)\.md\b/,
    why: "reference notes are not in the repository: cite docs/compatibility.md or the upstream source",
  },
  { pattern: /\bquirks? §/, why: "a reference note's numbering: cite docs/compatibility.md" },
  { pattern: /§\d+\.[A-Z]\b/, why: "a checklist section: cite the upstream spec section" },
  {
    pattern: /\b[A-H]\d{1,2}\b/,
    why: "a checklist ID (A1, B15, D3, F2...): say what is checked, or cite the upstream spec section",
  },
];

interface Hit {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly why: string;
}

function forbiddenCitations(file: string): Hit[] {
  const hits: Hit[] = [];
  readFileSync(join(ROOT, file), "utf8")
    .split("\n")
    .forEach((text, i) => {
      for (const { pattern, why } of FORBIDDEN)
        if (pattern.test(text)) hits.push({ file, line: i + 1, text: text.trim(), why });
    });
  return hits;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to `-`, repeats numbered. */
function headingAnchors(markdownText: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdownText.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1] as string);
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = (heading[1] as string)
      .replace(/`/g, "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<[^>]+>/g, "")
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Inline links `[text](target)` outside code spans and fences. */
function markdownLinks(text: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  let fenced = false;
  text.split("\n").forEach((raw, i) => {
    if (/^\s*(```|~~~)/.test(raw)) fenced = !fenced;
    if (fenced) return;
    const line = raw.replace(/`[^`]*`/g, "");
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      links.push({ target: m[1] as string, line: i + 1 });
  });
  return links;
}

/** Why `target` (a path relative to `from`, with an optional #anchor) does not resolve, or undefined. */
function brokenLink(from: string, target: string): string | undefined {
  const [pathPart = "", anchor] = target.split("#", 2);
  const file = pathPart === "" ? join(ROOT, from) : resolve(ROOT, dirname(from), decodeURIComponent(pathPart));
  if (!file.startsWith(ROOT)) return `${target} points outside the repository`;
  if (!existsSync(file)) return `${relative(ROOT, file)} does not exist`;
  if (anchor === undefined || anchor === "") return undefined;
  if (statSync(file).isDirectory() || !file.endsWith(".md")) return `#${anchor} on a file that is not Markdown`;
  if (!headingAnchors(readFileSync(file, "utf8")).has(anchor))
    return `${relative(ROOT, file)} has no heading for #${anchor}`;
  return undefined;
}

describe("citations in src, test and the Markdown files", () => {
  it("cite only what is in the repository or upstream", () => {
    const hits = sources.flatMap(forbiddenCitations);
    expect(hits.map((h) => `${h.file}:${h.line}: ${h.why}: ${h.text}`)).toEqual([]);
  });

  it("the checker finds each kind of forbidden citation (it can fail)", () => {
    // Built from pieces, so that a plain grep of the repository finds no forbidden citation here.
    const samples = [
      `// see ${"DESIGN"}.md §1`,
      `// (${"reference"}/specs.md §1.3)`,
      "// multus.md quirk §9.1",
      "// checks B1-B21",
      'it("D3: 1.1.0 -> 0.3.1")',
      "// §5.F",
    ];
    for (const s of samples)
      expect(
        FORBIDDEN.some((f) => f.pattern.test(s)),
        s,
      ).toBe(true);
    for (const s of ["// CNI SPEC §2", "// multi-net spec §4.1.2.1", "// Multus #1087", "// docs/architecture.md#del"])
      expect(
        FORBIDDEN.some((f) => f.pattern.test(s)),
        s,
      ).toBe(false);
  });

  it("every docs/*.md#anchor they cite exists", () => {
    const broken: string[] = [];
    for (const file of sources) {
      readFileSync(join(ROOT, file), "utf8")
        .split("\n")
        .forEach((text, i) => {
          for (const m of text.matchAll(/\bdocs\/([\w-]+\.md)(?:#([\w-]+))?/g)) {
            const why = brokenLink(".", `docs/${m[1]}${m[2] ? `#${m[2]}` : ""}`);
            if (why) broken.push(`${file}:${i + 1}: ${why}`);
          }
        });
    }
    expect(broken).toEqual([]);
  });
});

describe("links in the Markdown files", () => {
  it("found the documents to check", () => {
    expect(markdown).toEqual(expect.arrayContaining(["README.md", "docs/architecture.md", "docs/compatibility.md"]));
  });

  it("every relative link resolves to a file and, with #anchor, to a heading in it", () => {
    const broken: string[] = [];
    for (const file of markdown) {
      for (const { target, line } of markdownLinks(readFileSync(join(ROOT, file), "utf8"))) {
        if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
        const why = brokenLink(file, target);
        if (why) broken.push(`${file}:${line}: (${target}) ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("anchors follow GitHub's rules", () => {
    const anchors = headingAnchors(
      "# Plexus architecture\n## The flow of a CNI command\n### CNI_ARGS\n## Multus behaviour kept\n" +
        "## Input tolerance\n## Input tolerance\n```\n# not a heading\n```\n" +
        '<a id="interface-names"></a>**Interface names.**\n### `plexus local`, step 2\n',
    );
    expect([...anchors]).toEqual([
      "plexus-architecture",
      "the-flow-of-a-cni-command",
      "cni_args",
      "multus-behaviour-kept",
      "input-tolerance",
      "input-tolerance-1",
      "interface-names",
      "plexus-local-step-2",
    ]);
  });
});
