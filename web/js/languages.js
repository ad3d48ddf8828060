// Language names, each shown in the language itself (the channel picker, the booths), and the
// writing direction. No DOM: the page's view of the Room (roomview.js) uses it, and node runs it
// in the unit tests.
import { t, lang } from "./i18n.js";
const AUTONYMS = {
  ar: "العربية", zh: "中文", en: "English", fr: "Français", es: "Español", ru: "Русский",
  de: "Deutsch", it: "Italiano", pt: "Português", ja: "日本語", ko: "한국어", nl: "Nederlands",
  pl: "Polski", tr: "Türkçe", uk: "Українська", hi: "हिन्दी", sw: "Kiswahili", fa: "فارسی",
  el: "Ελληνικά", sv: "Svenska", fi: "Suomi", da: "Dansk", no: "Norsk", cs: "Čeština",
  hu: "Magyar", ro: "Română", bg: "Български", he: "עברית", id: "Bahasa Indonesia", vi: "Tiếng Việt",
  th: "ไทย", ms: "Bahasa Melayu", bn: "বাংলা", ur: "اردو", am: "አማርኛ", ha: "Hausa",
};
const RTL = new Set(["ar", "fa", "he", "ur"]);

export function langName(code) {
  if (!code) return "";
  if (code === "floor") return t("channel.floor");
  if (AUTONYMS[code]) return AUTONYMS[code];
  try {
    const n = new Intl.DisplayNames([code], { type: "language" }).of(code);
    if (n && n !== code) return n.charAt(0).toLocaleUpperCase(code) + n.slice(1);
  } catch { /* unknown code */ }
  return code.toUpperCase();
}
export function langNameEn(code) {
  if (code === "floor") return "Original";
  try { return new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code; } catch { return code; }
}
/** A language's name in the interface's language (the organizer's language list). */
export function langNameUi(code) {
  try { return new Intl.DisplayNames([lang], { type: "language" }).of(code) || code; } catch { return code; }
}
export const langDir = (code) => (RTL.has(code) ? "rtl" : "ltr");

/** The languages the meeting form proposes first. */
export const COMMON_LANGS = ["en", "fr", "es", "ar", "zh", "ru", "de", "pt", "it", "ja", "ko", "nl", "tr", "uk", "hi", "sw", "fa", "pl"];
