"""The invitation e-mail's words: one template per language, a sentence per role, plain text and
HTML built from the same values. Pure (no I/O), so a test reads exactly what a person receives.

A language is added by one entry in `TEXTS`; a missing language falls back to English. The
invitation's own `language` picks it (the participant's), else the meeting's first language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from html import escape

# per language: subject, greeting, the role sentences, labels, the closing line
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Your invitation: {title}",
        "hello": "Hello {name},",
        "hello_anon": "Hello,",
        "delegate": "You are invited to take part in {title} as a delegate.",
        "observer": "You are invited to follow {title} as an observer.",
        "chair": "You are invited to chair {title}.",
        "interpreter": "You are invited to interpret {title} in the {booth} booth.",
        "room": "This link connects the meeting room's sound to {title}.",
        "when": "When",
        "role": "Role",
        "booth": "Booth",
        "join": "Join the meeting",
        "keep": "This link is personal: do not forward it. Open it again to come back.",
        "tbd": "to be announced",
    },
    "fr": {
        "subject": "Votre invitation : {title}",
        "hello": "Bonjour {name},",
        "hello_anon": "Bonjour,",
        "delegate": "Vous êtes invité(e) à participer à {title} en tant que délégué(e).",
        "observer": "Vous êtes invité(e) à suivre {title} en tant qu'observateur.",
        "chair": "Vous êtes invité(e) à présider {title}.",
        "interpreter": "Vous êtes invité(e) à interpréter {title} dans la cabine {booth}.",
        "room": "Ce lien relie le son de la salle de réunion à {title}.",
        "when": "Date",
        "role": "Rôle",
        "booth": "Cabine",
        "join": "Rejoindre la réunion",
        "keep": "Ce lien est personnel : ne le transférez pas. Rouvrez-le pour revenir.",
        "tbd": "à préciser",
    },
}
ROLE_NAMES = {
    "en": {"delegate": "delegate", "observer": "observer", "chair": "chair",
           "interpreter": "interpreter", "room": "meeting room"},
    "fr": {"delegate": "délégué(e)", "observer": "observateur", "chair": "présidence",
           "interpreter": "interprète", "room": "salle de réunion"},
}


@dataclass(frozen=True, slots=True)
class Invite:
    """What one message says: the values of the invitation and its meeting."""

    to: str
    name: str | None
    role: str
    booth: str | None
    language: str
    title: str
    starts_at: datetime | None
    join_url: str


def compose(invite: Invite, sender: str) -> EmailMessage:
    """The message: plain text first, HTML as the alternative (clients show the richer one)."""
    lang = invite.language if invite.language in TEXTS else "en"
    words = TEXTS[lang]
    values = {"title": invite.title, "name": invite.name or "", "booth": invite.booth or ""}
    hello = (words["hello"] if invite.name else words["hello_anon"]).format(**values)
    line = words.get(invite.role, words["delegate"]).format(**values)
    when = (invite.starts_at.strftime("%Y-%m-%d %H:%M UTC") if invite.starts_at
            else words["tbd"])
    facts = [(words["when"], when),
             (words["role"], ROLE_NAMES[lang].get(invite.role, invite.role))]
    if invite.booth:
        facts.append((words["booth"], invite.booth))
    text = "\n".join([hello, "", line, "", *(f"{k}: {v}" for k, v in facts), "",
                      f"{words['join']}: {invite.join_url}", "", words["keep"], ""])
    rows = "".join(f"<tr><th align=\"left\">{escape(k)}</th><td>{escape(v)}</td></tr>"
                   for k, v in facts)
    html = (f"<!doctype html><html lang=\"{lang}\"><body><p>{escape(hello)}</p>"
            f"<p>{escape(line)}</p><table>{rows}</table>"
            f"<p><a href=\"{escape(invite.join_url, quote=True)}\">{escape(words['join'])}</a></p>"
            f"<p>{escape(words['keep'])}</p></body></html>")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = invite.to
    msg["Subject"] = words["subject"].format(**values)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
