#!/usr/bin/env node
// Every relative link and #anchor in the project's Markdown must resolve, so a
// page moved or a heading renamed breaks `npm test` rather than a reader's
// click. Offline by design: http(s) and mailto links are not fetched.
//
//   node scripts/check-links.ts                 README.md, SECURITY.md, docs/*.md
//   node scripts/check-links.ts a.md b.md       just those files
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

export interface BrokenLink {
  file: string;
  line: number;
  target: string;
  reason: string;
}

const ROOT = resolve(import.meta.dirname, "..");

/** The Markdown files whose links `npm test` checks. */
export function defaultFiles(root = ROOT): string[] {
  const docs = resolve(root, "docs");
  const inDocs = existsSync(docs)
    ? readdirSync(docs)
        .filter((f) => f.endsWith(".md"))
        .toSorted()
        .map((f) => resolve(docs, f))
    : [];
  return [resolve(root, "README.md"), resolve(root, "SECURITY.md"), ...inDocs].filter(existsSync);
}

/**
 * GitHub's heading anchor: lower case, punctuation dropped (letters of any
 * script, digits, `-` and `_` kept), spaces to hyphens.
 */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // [text](url) -> text
    .replace(/<[^>]+>/g, "") // inline HTML tags
    .replace(/[`*~]/g, "")
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M} _-]/gu, "").replace(/ /g, "-");
}

interface Line {
  /** The line with inline code spans blanked out, so links shown as code are not followed. */
  text: string;
  raw: string;
  line: number;
}

/** The lines outside fenced code blocks. */
function proseLines(source: string): Line[] {
  const out: Line[] = [];
  let fence: string | null = null;
  source.split("\n").forEach((text, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = null;
      return;
    }
    if (marker) {
      fence = marker;
      return;
    }
    out.push({
      text: text.replace(/(`+)[^`]*?\1/g, (m) => " ".repeat(m.length)),
      raw: text,
      line: i + 1,
    });
  });
  return out;
}

/** Anchors a Markdown file offers: its headings' slugs (numbered when repeated) and HTML ids. */
export function anchorsOf(source: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text, raw } of proseLines(source)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw)?.[1];
    if (heading !== undefined) {
      const base = slug(heading);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of text.matchAll(/<[^>]*\s(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

/** Link targets in a Markdown file: inline links and images, reference definitions, HTML src/href. */
function targetsOf(source: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  for (const { text, line } of proseLines(source)) {
    for (const m of text.matchAll(/\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ target: m[1]!.replace(/^<|>$/g, ""), line });
    }
    const def = /^ {0,3}\[[^\]]+\]:\s*(\S+)/.exec(text);
    if (def) found.push({ target: def[1]!, line });
    for (const m of text.matchAll(/<(?:img|a|source)\b[^>]*\s(?:src|href)="([^"]+)"/g)) {
      found.push({ target: m[1]!, line });
    }
  }
  return found;
}

function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//");
}

/** Every link in `files` that does not resolve, with the reason. */
export function checkLinks(files: string[], root = ROOT): BrokenLink[] {
  const broken: BrokenLink[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (path: string): Set<string> => {
    let set = anchorCache.get(path);
    if (!set) anchorCache.set(path, (set = anchorsOf(readFileSync(path, "utf8"))));
    return set;
  };
  for (const file of files) {
    const source = readFileSync(file, "utf8");
    for (const { target, line } of targetsOf(source)) {
      if (isExternal(target)) continue;
      const report = (reason: string): void => {
        broken.push({ file: relative(root, file), line, target, reason });
      };
      const hash = target.indexOf("#");
      const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
      const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
      if (pathPart.startsWith("/")) {
        report("absolute path: use a path relative to this file");
        continue;
      }
      const dest = pathPart === "" ? file : resolve(dirname(file), pathPart);
      if (!existsSync(dest)) {
        report(`no such file: ${relative(root, dest)}`);
        continue;
      }
      if (anchor === null || anchor === "") continue;
      if (!dest.endsWith(".md") || statSync(dest).isDirectory()) {
        // GitHub's line anchors (#L10) into source files are not checked.
        if (!/^L\d+(-L\d+)?$/.test(anchor)) report(`#${anchor} into a file that is not Markdown`);
        continue;
      }
      if (!anchors(dest).has(anchor)) {
        report(`no heading #${anchor} in ${relative(root, dest)}`);
      }
    }
  }
  return broken;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args.map((f) => resolve(f)) : defaultFiles();
  const broken = checkLinks(files);
  for (const b of broken) console.error(`${b.file}:${b.line}: ${b.target}: ${b.reason}`);
  if (broken.length > 0) {
    console.error(`check-links: ${broken.length} broken link(s) in ${files.length} file(s)`);
    process.exit(1);
  }
  console.log(`check-links: every relative link in ${files.length} file(s) resolves`);
}
