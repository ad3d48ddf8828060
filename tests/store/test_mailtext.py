"""The invitation e-mail's text (store/mailtext.py): what a person reads, escaped where it is
HTML, English where no template exists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mirp.store.mailtext import ROLE_NAMES, TEXTS, Invite, compose


def _invite(**fields: object) -> Invite:
    values: dict[str, object] = {
        "to": "a@example.org", "name": "A <b>", "role": "delegate", "booth": None,
        "language": "en", "title": "Council & <Co>", "join_url": "https://h.example/join.html#t=x",
        "starts_at": datetime(2026, 5, 4, 9, 0, tzinfo=UTC)}
    values.update(fields)
    return Invite(**values)  # type: ignore[arg-type]


def test_html_is_escaped_and_text_is_plain() -> None:
    msg = compose(_invite(), "MIRP <m@h.example>")
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Council &amp; &lt;Co&gt;" in html and "<Co>" not in html
    assert "A &lt;b&gt;" in html
    assert "Hello A <b>," in text and "Council & <Co>" in text
    assert msg["Subject"] == "Your invitation: Council & <Co>"


def test_unknown_language_falls_back_to_english_and_no_date_says_so() -> None:
    msg = compose(_invite(language="de", starts_at=None, name=None, role="observer"), "m@h")
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Hello,\n") and "as an observer" in text
    assert "When: to be announced" in text


ROLES = ("delegate", "observer", "chair", "interpreter", "room")


@pytest.mark.parametrize("lang", ["ar", "zh", "en", "fr", "ru", "es"])
@pytest.mark.parametrize("role", ROLES)
def test_every_language_words_every_role_with_its_values(lang: str, role: str) -> None:
    booth = "fr" if role == "interpreter" else None
    msg = compose(_invite(language=lang, role=role, booth=booth, name="Aïcha Q",
                          title="Council X"), "m@h")
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    words = TEXTS[lang]
    assert msg["Subject"] == words["subject"].format(title="Council X")
    assert "Aïcha Q" in text and "Council X" in text and "{" not in text
    assert words[role].format(title="Council X", booth=booth or "") in text
    assert f"{words['role']}: {ROLE_NAMES[lang][role]}" in text
    assert (f"{words['booth']}: fr" in text) == (role == "interpreter")
    assert f"{words['join']}: https://h.example/join.html#t=x" in text
    assert f'lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}"' in html


def test_every_language_has_every_text_and_role_name() -> None:
    for lang, words in TEXTS.items():
        assert words.keys() == TEXTS["en"].keys(), lang
        assert ROLE_NAMES[lang].keys() == ROLE_NAMES["en"].keys(), lang
    assert set(TEXTS) == {"ar", "zh", "en", "fr", "ru", "es"}
