"""The invitation e-mail's text (store/mailtext.py): what a person reads, escaped where it is
HTML, English where no template exists."""

from __future__ import annotations

from datetime import UTC, datetime

from mirp.store.mailtext import Invite, compose


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
    msg = compose(_invite(language="zh", starts_at=None, name=None, role="observer"), "m@h")
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Hello,\n") and "as an observer" in text
    assert "When: to be announced" in text
