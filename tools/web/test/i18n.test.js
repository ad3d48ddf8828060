// The message catalogues (web/i18n/*.json) against each other and against the pages: every key
// the pages use is in English, every language has every English key (and no other), with the same
// placeholders, the plural forms its language needs, and the same markup in the few HTML texts.
// A failure names the language and the keys, so a translator (or the lead after a merge that
// brought new English strings) sees what to add: `node tools/web/i18n-missing.js` lists them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UI_LANGS, format, pickLanguage } from "../../../web/js/i18n.js";
import { keysUsed, placeholders, tags } from "../catalogue.js";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "web");
const load = (code) => (existsSync(join(WEB, "i18n", `${code}.json`)) ? JSON.parse(readFileSync(join(WEB, "i18n", `${code}.json`), "utf8")) : {});
const en = load("en");
const used = keysUsed(WEB);

test("one catalogue per interface language, and no other", () => {
  const files = readdirSync(join(WEB, "i18n")).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort();
  assert.deepEqual(files, Object.keys(UI_LANGS).sort());
});

test("every key the pages use is in the English catalogue", () => {
  const missing = used.exact.filter((k) => en[k] == null);
  assert.deepEqual(missing, [], "keys used in web/ but not in web/i18n/en.json");
  const prefixes = used.prefixes.filter((p) => !Object.keys(en).some((k) => k.startsWith(p)));
  assert.deepEqual(prefixes, [], "keys built at run time (t(`prefix…`)) with no key of that prefix");
});

test("every English key is used by a page", () => {
  const unused = Object.keys(en).filter((k) => !used.exact.includes(k) && !used.prefixes.some((p) => k.startsWith(p)));
  assert.deepEqual(unused, [], "keys in en.json that no page uses");
});

for (const code of Object.keys(UI_LANGS).filter((c) => c !== "en")) {
  const cat = load(code);
  test(`${code}: every English key is translated, and no other`, () => {
    assert.deepEqual(Object.keys(en).filter((k) => cat[k] == null), [], `missing in web/i18n/${code}.json`);
    assert.deepEqual(Object.keys(cat).filter((k) => en[k] == null), [], `in web/i18n/${code}.json but not in English`);
  });

  test(`${code}: the same placeholders and markup as English`, () => {
    const wrong = [];
    for (const [key, text] of Object.entries(cat)) {
      if (en[key] == null) continue;
      const forms = typeof text === "string" ? [text] : Object.values(text);
      const want = [...new Set((typeof en[key] === "string" ? [en[key]] : Object.values(en[key])).flatMap(placeholders))].sort();
      for (const form of forms) {
        const got = placeholders(form);
        // a plural form may say its number in words ("one second": {count} left out)
        const same = typeof text === "string" ? got.join() === want.join() : got.every((p) => want.includes(p)) && want.filter((p) => p !== "count").every((p) => got.includes(p));
        if (!same) wrong.push(`${key}: {${got}} instead of {${want}}`);
        if (key.endsWith("_html") && tags(form).join() !== tags(en[key]).join()) wrong.push(`${key}: markup ${tags(form)} instead of ${tags(en[key])}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test(`${code}: the plural forms the language needs`, () => {
    const needed = new Intl.PluralRules(code).resolvedOptions().pluralCategories;
    const wrong = Object.entries(en).filter(([, v]) => typeof v === "object")
      .flatMap(([key]) => (typeof cat[key] !== "object" || cat[key] == null ? [`${key}: not plural`]
        : needed.filter((c) => cat[key][c] == null).map((c) => `${key}: no "${c}"`)));
    assert.deepEqual(wrong, []);
  });
}

test("every language's ordinal forms are in the catalogue (ordinal.<form>: 1st, 1er, 1.º…)", () => {
  const wrong = Object.keys(UI_LANGS).flatMap((code) => new Intl.PluralRules(code, { type: "ordinal" }).resolvedOptions().pluralCategories
    .filter((form) => typeof load(code)[`ordinal.${form}`] !== "string").map((form) => `${code}: ordinal.${form}`));
  assert.deepEqual(wrong, []);
});

test("English plurals have one and other", () => {
  const wrong = Object.entries(en).filter(([, v]) => typeof v === "object" && (v.one == null || v.other == null)).map(([k]) => k);
  assert.deepEqual(wrong, []);
});

test("placeholders are filled, numbers the language's way", () => {
  assert.equal(format("{name} asks {who}", { name: "Ana" }), "Ana asks {who}");
  assert.equal(format("{count} s", { count: 1500 }, "en"), "1,500 s");
});

test("the language follows the user's choice, else the browser's, else English", () => {
  assert.equal(pickLanguage("ar", ["fr-FR"]), "ar");
  assert.equal(pickLanguage(null, ["de-DE", "zh-CN", "fr"]), "zh");
  assert.equal(pickLanguage("xx", ["es-419"]), "es");
  assert.equal(pickLanguage(null, ["de"]), "en");
});

test("t(): plural forms by count, English for a missing key, the key when nobody has it", async () => {
  const { t, errorText } = await import("../../../web/js/i18n.js");
  assert.equal(t("delegate.seconds_left", { count: 1 }), "1 second of speaking time left.");
  assert.equal(t("delegate.seconds_left", { count: 30 }), "30 seconds of speaking time left.");
  assert.equal(t("chair.move_up", { name: "Ana" }), "Move Ana up");
  assert.equal(t("no.such.key"), "no.such.key");
  const { ordinal } = await import("../../../web/js/i18n.js");
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101].map(ordinal), ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st"]);
  // a server error: the page's wording for the code, the refusal's reason, else the server's words
  assert.equal(errorText({ code: "unauthorized", message: "bad token" }, "join.error"), "This invitation link is not valid or has expired.");
  assert.equal(errorText({ code: "forbidden", message: "no", details: { reason: "revoked" } }), "This invitation was revoked.");
  assert.equal(errorText({ code: "conflict", message: "Title already used." }), "Title already used.");
});
