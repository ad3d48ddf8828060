// What the pages ask of the message catalogues, read from the sources (tooling: never served).
// Shared by the catalogue test (test/i18n.test.js) and the translators' list of missing keys
// (i18n-missing.js).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]);
}

/**
 * The keys web/ uses: `exact` ones (data-i18n, data-i18n-html, data-i18n-attr, data-sub,
 * t("…"), errorText(…, "scope") with the codes it may take) and the `prefixes` of keys built at
 * run time (t(`role.${r}`)): a prefix needs at least one key, and keeps its keys "used".
 * @param {string} web the web/ folder
 */
export function keysUsed(web) {
  const exact = new Set(), prefixes = new Set();
  for (const f of files(web)) {
    const rel = relative(web, f);
    if (rel.startsWith("i18n") || rel.startsWith("vendor")) continue; // third-party code: no keys
    const text = readFileSync(f, "utf8");
    if (f.endsWith(".html")) {
      for (const m of text.matchAll(/data-i18n(?:-html)?="([^"]+)"/g)) exact.add(m[1]);
      for (const m of text.matchAll(/data-sub="([^"]+)"/g)) exact.add(m[1]);
      for (const m of text.matchAll(/data-i18n-attr="([^"]+)"/g)) {
        for (const pair of m[1].split(";")) exact.add(pair.split(":")[1].trim());
      }
    }
    if (f.endsWith(".js")) {
      for (const m of text.matchAll(/\bt\("([\w.]+)"/g)) exact.add(m[1]);
      for (const m of text.matchAll(/\bt\(`([\w.]+)\$\{/g)) prefixes.add(m[1]);
      // errorText(err, "scope") looks up <scope>.<code>; errorText looks up error.*
      for (const m of text.matchAll(/errorText\([^)]*?,\s*"([\w.]+)"\)/g)) prefixes.add(`${m[1]}.`);
      for (const m of text.matchAll(/has\(`([\w.]+)\$\{/g)) prefixes.add(m[1]);
    }
  }
  return { exact: [...exact].sort(), prefixes: [...prefixes].sort() };
}

/** The placeholders of a text, sorted: "{name} asks {who}" → ["name", "who"]. */
export function placeholders(text) {
  return [...new Set([...String(text).matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
}

/** The markup of an HTML text, in order: "<kbd>C</kbd> or <strong>x</strong>" → ["kbd", "strong"]. */
export function tags(text) {
  return [...String(text).matchAll(/<(\w+)[\s>]/g)].map((m) => m[1]).sort();
}
