"""Channel names for viewers, each in its own language and script (the master playlist's NAME).

The same autonyms as the web client's web/js/languages.js (the page shows these names too); a
code missing here falls back to its English name, then to the code."""

from __future__ import annotations

from mirp.store.languages import ISO_639_1

FLOOR = "floor"
AUTONYMS = {
    "ar": "العربية", "zh": "中文", "en": "English", "fr": "Français", "es": "Español",
    "ru": "Русский", "de": "Deutsch", "it": "Italiano", "pt": "Português", "ja": "日本語",
    "ko": "한국어", "nl": "Nederlands", "pl": "Polski", "tr": "Türkçe", "uk": "Українська",
    "hi": "हिन्दी", "sw": "Kiswahili", "fa": "فارسی", "el": "Ελληνικά", "sv": "Svenska",
    "fi": "Suomi", "da": "Dansk", "no": "Norsk", "cs": "Čeština", "hu": "Magyar", "ro": "Română",
    "bg": "Български", "he": "עברית", "id": "Bahasa Indonesia", "vi": "Tiếng Việt", "th": "ไทย",
    "ms": "Bahasa Melayu", "bn": "বাংলা", "ur": "اردو", "am": "አማርኛ", "ha": "Hausa",
}


def channel_name(channel: str) -> str:
    if channel == FLOOR:
        return "Floor"
    return AUTONYMS.get(channel) or ISO_639_1.get(channel) or channel.upper()
