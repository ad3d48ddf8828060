// What the server sends to users (everything under web/): no test hook, no tooling, and names
// that resolve (every close code the pages use exists in wire.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { CLOSE } from "../../../web/js/wire.js";
import { langName, langDir } from "../../../web/js/languages.js";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "web");

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]);
}
const served = files(WEB).map((f) => relative(WEB, f));
const text = (f) => readFileSync(join(WEB, f), "utf8");

test("no test hook in the pages users load", () => {
  const hooked = served.filter((f) => /\.(js|html)$/.test(f) && /mirpTest|installTestHook/.test(text(f)));
  assert.deepEqual(hooked, []);
});

test("no tooling under web/ (the app serves all of it)", () => {
  const tooling = served.filter((f) => /(^|\/)(node_modules|test)\/|package(-lock)?\.json$|eslint/.test(f));
  assert.deepEqual(tooling, []);
});

test("every CLOSE.<name> the pages use is in wire.js", () => {
  const used = new Set(served.filter((f) => f.endsWith(".js"))
    .flatMap((f) => [...text(f).matchAll(/\bCLOSE\.([A-Z_]+)/g)].map((m) => m[1])));
  assert.ok(used.size > 0);
  const missing = [...used].filter((name) => !Number.isInteger(CLOSE[name]));
  assert.deepEqual(missing, []);
});

test("no close code written as a number in the pages' modules but wire.js", () => {
  const literal = served.filter((f) => f.endsWith(".js") && f !== join("js", "wire.js") && f !== join("js", "protocol.js"))
    .filter((f) => /(code|CLOSE)[^\n;]*[=!]==?\s*(1013|44\d\d)\b/.test(text(f)));
  assert.deepEqual(literal, []);
});

test("languages are named in their own language, unknown ones by their code", () => {
  assert.equal(langName("fr"), "Français");
  assert.equal(langName("floor"), "Floor");
  assert.equal(langName(""), "");
  assert.equal(langName("qqq"), "QQQ");
  assert.equal(langDir("ar"), "rtl");
  assert.equal(langDir("en"), "ltr");
});

// ------------------------------------------------------------------ one page shell
const pages = served.filter((f) => /^[^/]+\.html$/.test(f));

function imports(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of text(file).matchAll(/^import\s+(?:[^"']*from\s+)?["']\.\/([\w-]+\.js)["']/gm)) imports(join("js", m[1]), seen);
  return seen;
}

test("every page keeps its landmarks in the HTML and takes the bar from shell.js", () => {
  assert.ok(pages.length >= 9, pages.join(", "));
  for (const page of pages) {
    const html = text(page);
    assert.equal(html.match(/<header class="appbar"[^>]*><\/header>/g)?.length, 1, `${page}: one empty app bar`);
    assert.equal(html.match(/<main id="main"/g)?.length, 1, `${page}: one <main id="main">`);
    assert.doesNotMatch(html, /class="(brand|skip-link)/, `${page}: the brand and skip link are shell.js's`);
    const entry = html.match(/<script type="module" src="\/(js\/[\w-]+\.js)"><\/script>/)?.[1];
    assert.ok(entry, `${page}: a module script`);
    assert.ok(imports(entry).has(join("js", "shell.js")), `${page}: ${entry} does not load shell.js`);
  }
});
