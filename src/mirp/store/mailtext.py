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
    "es": {
        "subject": "Su invitación: {title}",
        "hello": "Estimado/a {name}:",
        "hello_anon": "Buenos días:",
        "delegate": "Se le invita a participar en {title} como delegado/a.",
        "observer": "Se le invita a seguir {title} como observador/a.",
        "chair": "Se le invita a presidir {title}.",
        "interpreter": "Se le invita a interpretar {title} en la cabina {booth}.",
        "room": "Este enlace conecta el sonido de la sala de reuniones con {title}.",
        "when": "Fecha",
        "role": "Función",
        "booth": "Cabina",
        "join": "Entrar en la reunión",
        "keep": "Este enlace es personal: no lo reenvíe. Ábralo de nuevo para volver.",
        "tbd": "por anunciar",
    },
    "ru": {
        "subject": "Ваше приглашение: {title}",
        "hello": "Здравствуйте, {name}!",
        "hello_anon": "Здравствуйте!",
        "delegate": "Приглашаем вас принять участие в мероприятии «{title}» в качестве делегата.",
        "observer": "Приглашаем вас следить за мероприятием «{title}» в качестве наблюдателя.",
        "chair": "Приглашаем вас председательствовать на мероприятии «{title}».",
        "interpreter": "Приглашаем вас переводить мероприятие «{title}» в кабине {booth}.",
        "room": "Эта ссылка подключает звук зала заседаний к мероприятию «{title}».",
        "when": "Когда",
        "role": "Роль",
        "booth": "Кабина",
        "join": "Войти в заседание",
        "keep": "Это личная ссылка: не пересылайте её. Откройте её снова, чтобы вернуться.",
        "tbd": "будет объявлено",
    },
    "zh": {
        "subject": "您的邀请：{title}",
        "hello": "{name}，您好：",
        "hello_anon": "您好：",
        "delegate": "诚邀您以代表身份参加{title}。",
        "observer": "诚邀您以观察员身份旁听{title}。",
        "chair": "诚邀您主持{title}。",
        "interpreter": "诚邀您在{booth}译箱为{title}担任口译。",
        "room": "此链接将会议室的声音接入{title}。",
        "when": "时间",
        "role": "身份",
        "booth": "译箱",
        "join": "进入会议",
        "keep": "此链接仅供您本人使用，请勿转发。再次打开即可返回会议。",
        "tbd": "待定",
    },
    "ar": {
        "subject": "دعوتك: {title}",
        "hello": "مرحبًا {name}،",
        "hello_anon": "مرحبًا،",
        "delegate": "أنت مدعو إلى المشاركة في {title} بصفة مندوب.",
        "observer": "أنت مدعو إلى متابعة {title} بصفة مراقب.",
        "chair": "أنت مدعو إلى رئاسة {title}.",
        "interpreter": "أنت مدعو إلى الترجمة الفورية في {title} في مقصورة {booth}.",
        "room": "يربط هذا الرابط صوت قاعة الاجتماع بـ {title}.",
        "when": "الموعد",
        "role": "الصفة",
        "booth": "المقصورة",
        "join": "الانضمام إلى الاجتماع",
        "keep": "هذا الرابط شخصي: لا تعد توجيهه. افتحه مرة أخرى للعودة.",
        "tbd": "سيُعلن لاحقًا",
    },
}
ROLE_NAMES = {
    "en": {"delegate": "delegate", "observer": "observer", "chair": "chair",
           "interpreter": "interpreter", "room": "meeting room"},
    "fr": {"delegate": "délégué(e)", "observer": "observateur", "chair": "présidence",
           "interpreter": "interprète", "room": "salle de réunion"},
    "es": {"delegate": "delegado/a", "observer": "observador/a", "chair": "presidencia",
           "interpreter": "intérprete", "room": "sala de reuniones"},
    "ru": {"delegate": "делегат", "observer": "наблюдатель", "chair": "председатель",
           "interpreter": "переводчик", "room": "зал заседаний"},
    "zh": {"delegate": "代表", "observer": "观察员", "chair": "主席",
           "interpreter": "口译员", "room": "会议室"},
    "ar": {"delegate": "مندوب", "observer": "مراقب", "chair": "الرئيس",
           "interpreter": "مترجم فوري", "room": "قاعة الاجتماع"},
}
RTL = frozenset({"ar"})  # written right to left: the HTML part says so


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
    direction = "rtl" if lang in RTL else "ltr"
    side = "right" if lang in RTL else "left"
    rows = "".join(f"<tr><th align=\"{side}\">{escape(k)}</th><td>{escape(v)}</td></tr>"
                   for k, v in facts)
    html = (f"<!doctype html><html lang=\"{lang}\" dir=\"{direction}\"><body>"
            f"<p>{escape(hello)}</p>"
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
