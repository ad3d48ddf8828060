// For translators and for the merge of new English strings: what each catalogue lacks.
//   node tools/web/i18n-missing.js        every language: its missing keys with the English text
//   node tools/web/i18n-missing.js --json one JSON object per language, ready to translate and paste
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { keysUsed } from "./catalogue.js";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "web");
const load = (code) => JSON.parse(readFileSync(join(WEB, "i18n", `${code}.json`), "utf8"));
const en = load("en");
const asJson = process.argv.includes("--json");
let gaps = 0;

const notInEnglish = keysUsed(WEB).exact.filter((k) => en[k] == null);
if (notInEnglish.length) { gaps += notInEnglish.length; console.log(`en: used in web/ but not in en.json: ${notInEnglish.join(", ")}`); }
for (const file of readdirSync(join(WEB, "i18n")).filter((f) => f.endsWith(".json") && f !== "en.json")) {
  const code = file.slice(0, -5);
  const cat = load(code);
  const missing = Object.fromEntries(Object.entries(en).filter(([k]) => cat[k] == null));
  gaps += Object.keys(missing).length;
  if (!Object.keys(missing).length) continue;
  if (asJson) console.log(`// ${file}\n${JSON.stringify(missing, null, 1)}`);
  else for (const [k, v] of Object.entries(missing)) console.log(`${code}\t${k}\t${JSON.stringify(v)}`);
}
process.exitCode = gaps ? 1 : 0;
