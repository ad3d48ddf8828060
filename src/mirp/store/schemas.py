"""The JSON shapes of the REST API (pydantic): what comes in, what goes out.

They live beside the repository (not in api/) because the repository validates and builds them:
one definition serves the routes, the OpenAPI document and the repository. Field-level rules are
pydantic validators (the error names the field); rules across fields (a booth's language must be
one of the meeting's, the end after the start) are checked in `check_meeting`, which raises
InvalidInput naming the field the same way (`details.fields[].field`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from mirp.errors import InvalidInput
from mirp.store.countries import ISO_3166_1
from mirp.store.languages import ISO_639_1

Status = Literal["scheduled", "open", "closed"]
InviteRole = Literal["chair", "delegate", "interpreter", "observer", "room"]
RegisterRole = Literal["delegate", "observer"]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_UNDER = [-12, -18, -24]

Name = Annotated[str, Field(min_length=1, max_length=200)]
OptText = Annotated[str | None, Field(max_length=200)]


# The times a client may give: a meeting or an invitation outside these years is a typo, and
# year 1 or 9999 overflows date arithmetic (an expiry a day after the end) and some databases.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)


def _with_offset(v: datetime) -> datetime:
    if v.tzinfo is None:
        raise ValueError("give the time with its UTC offset, e.g. 2026-05-04T09:00:00Z")
    if not EARLIEST <= v <= LATEST:
        raise ValueError(f"give a time between the years {EARLIEST.year} and {LATEST.year}")
    return v


# a time given by a client: with its UTC offset, never a naive local time, in a sane range
AwareTime = Annotated[datetime, AfterValidator(_with_offset)]


def _lang(code: str) -> str:
    code = code.strip().lower()
    if code not in ISO_639_1:
        raise ValueError(f"{code!r} is not an ISO 639-1 language code")
    return code


def _opt_lang(value: Any) -> Any:
    """A language code or nothing (blank is nothing); the meeting's own list is checked later."""
    value = _blank_none(value)
    return _lang(value) if isinstance(value, str) else value


def opt_country(value: Any) -> Any:
    """An ISO 3166-1 alpha-2 code (any case, kept upper-case) or nothing (blank is nothing)."""
    value = _blank_none(value)
    if not isinstance(value, str):
        return value
    code = value.strip().upper()
    if code not in ISO_3166_1:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > 320 or not EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _blank_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _nul_path(value: Any, path: str = "") -> str | None:
    """Where a NUL character hides in JSON input (keys and strings, at any depth), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return here
        found = _nul_path(item, here)
        if found is not None:
            return found
    return None


class Strict(BaseModel):
    """Every request body's base: unknown fields are errors, and no string anywhere in it may
    hold a NUL character (PostgreSQL refuses them in text; nothing legitimate sends one)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        where = _nul_path(value)
        if where is not None:
            at = f" (at {where})" if where else ""
            raise ValueError(f"NUL characters are not allowed{at}")
        return value


PASSWORD_MIN = 12


def check_password(value: str) -> str:
    """The password policy (signup and `mirp admin create`): long enough, not blank, not one
    character repeated. Raises ValueError saying what is wrong."""
    if len(value) < PASSWORD_MIN:
        raise ValueError(f"at least {PASSWORD_MIN} characters")
    if not value.strip():
        raise ValueError("a password cannot be only spaces")
    if len(set(value)) == 1:
        raise ValueError("a password cannot be one character repeated")
    return value


# --- accounts --------------------------------------------------------------------------------

class SignupIn(Strict):
    email: str
    name: Name
    password: Annotated[str, Field(max_length=200), AfterValidator(check_password)]

    @field_validator("email", mode="before")
    @classmethod
    def _check_email(cls, v: Any) -> Any:
        return _required_email(v)


class LoginIn(Strict):
    email: str
    password: str = Field(max_length=200)


def _required_email(value: Any) -> str:
    email = _email(value) if isinstance(value, str) else None
    if email is None:
        raise ValueError("an e-mail address is needed")
    return email


class OrganizerOut(BaseModel):
    id: str
    email: str
    name: str
    is_admin: bool


class AuthOut(BaseModel):
    token: str
    organizer: OrganizerOut


# --- meetings --------------------------------------------------------------------------------

class BoothIn(Strict):
    language: str
    retour: str | None = None
    understands: list[str] = Field(default_factory=list, max_length=200)
    auto_floor: bool = True

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        return _lang(v)

    @field_validator("retour", mode="before")
    @classmethod
    def _retour(cls, v: Any) -> Any:
        v = _blank_none(v)
        return None if v is None else _lang(str(v))

    @field_validator("understands")
    @classmethod
    def _understands(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(_lang(c) for c in v))


class OptionsIn(Strict):
    under_levels_db: list[int] | None = Field(default=None, min_length=1, max_length=6)
    capacity: int | None = Field(default=None, ge=1, le=100_000)
    webcast: Literal["public", "token", "off"] | None = None  # docs/webcast.md
    recording: bool | None = None
    retention_days: int | None = Field(default=None, ge=0, le=36_500)  # 0: keep for ever
    # the channels captioned live: "floor" and/or languages of the meeting (docs/captions.md)
    captions: list[str] | None = Field(default=None, max_length=40)

    @field_validator("under_levels_db")
    @classmethod
    def _levels(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return None
        for level in v:
            if not -60 <= level <= -3:
                raise ValueError(f"{level} dB: floor-under levels are between -60 and -3 dB")
        return list(dict.fromkeys(v))


class MeetingPatch(Strict):
    """PATCH: every field optional; what is given replaces what was (options merge)."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    starts_at: AwareTime | None = None
    ends_at: AwareTime | None = None
    languages: list[str] | None = Field(default=None, min_length=1, max_length=100)
    booths: list[BoothIn] | None = Field(default=None, max_length=100)
    options: OptionsIn | None = None
    status: Status | None = None
    registration_open: bool | None = None

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, v: Any) -> Any:
        return v.strip() if isinstance(v, str) else v

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        codes = [_lang(c) for c in v]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"language listed twice: {', '.join(sorted(dup))}")
        return codes


class MeetingIn(MeetingPatch):
    title: str = Field(min_length=1, max_length=300)
    languages: list[str] = Field(min_length=1, max_length=100)
    booths: list[BoothIn] = Field(default_factory=list, max_length=100)
    options: OptionsIn = Field(default_factory=OptionsIn)
    status: Status = "scheduled"
    registration_open: bool = False


def _fail(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}",
                        {"field": field, "fields": [{"field": field, "message": message}]})


def check_meeting(languages: list[str], booths: list[BoothIn], starts_at: datetime | None,
                  ends_at: datetime | None) -> list[BoothIn]:
    """The rules across fields. Returns the booths cleaned (own language out of `understands`)."""
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise _fail("ends_at", "the meeting must end after it starts")
    seen: set[str] = set()
    cleaned = []
    for i, b in enumerate(booths):
        if b.language not in languages:
            raise _fail(f"booths.{i}.language",
                        f"booth language {b.language!r} is not one of the meeting's languages")
        if b.language in seen:
            raise _fail(f"booths.{i}.language", f"two booths for {b.language!r}")
        seen.add(b.language)
        if b.retour is not None and (b.retour not in languages or b.retour == b.language):
            raise _fail(f"booths.{i}.retour",
                        f"retour {b.retour!r} must be another of the meeting's languages")
        for u in b.understands:
            if u not in languages:
                raise _fail(f"booths.{i}.understands",
                            f"{u!r} is not one of the meeting's languages")
        cleaned.append(b.model_copy(update={
            "understands": [u for u in b.understands if u != b.language]}))
    return cleaned


class BoothOut(BaseModel):
    language: str
    retour: str | None
    understands: list[str]
    auto_floor: bool


class OptionsOut(BaseModel):
    under_levels_db: list[int]
    capacity: int
    webcast: Literal["public", "token", "off"] = "off"
    recording: bool = False
    retention_days: int | None = None  # recordings deleted this many days after they end
    captions: list[str] = []


class MeetingOut(BaseModel):
    id: str
    title: str
    starts_at: datetime | None
    ends_at: datetime | None
    languages: list[str]
    booths: list[BoothOut]
    options: OptionsOut
    under_levels_db: list[int]  # = options.under_levels_db (the join answer's shape)
    capacity: int
    status: Status
    registration_open: bool
    owner_id: str
    created_at: datetime
    updated_at: datetime


class MeetingSummary(BaseModel):
    """What a participant learns about the meeting (join peek and join answer)."""

    id: str
    title: str
    starts_at: datetime | None
    ends_at: datetime | None
    languages: list[str]
    booths: list[BoothOut]
    under_levels_db: list[int]
    status: Status


# --- invitations -----------------------------------------------------------------------------

class InvitationIn(Strict):
    role: InviteRole
    booth: str | None = None
    name: OptText = None
    delegation: OptText = None
    email: str | None = None
    # the language the participant speaks, one of the meeting's (checked by the repository):
    # the Room's automatic floor language follows it
    language: str | None = None
    country: str | None = None  # the delegation's, ISO 3166-1 alpha-2 (statistics only)
    max_uses: int | None = Field(default=1, ge=1, le=100_000)  # null: unlimited
    expires_at: AwareTime | None = None

    @field_validator("booth", "name", "delegation", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_none(v)

    @field_validator("email", mode="before")
    @classmethod
    def _check_email(cls, v: Any) -> Any:
        return _email(v) if isinstance(v, str) else v

    @field_validator("language", mode="before")
    @classmethod
    def _check_language(cls, v: Any) -> Any:
        return _opt_lang(v)

    @field_validator("country", mode="before")
    @classmethod
    def _check_country(cls, v: Any) -> Any:
        return opt_country(v)


class BulkIn(Strict):
    csv: str = Field(min_length=1, max_length=2_000_000)
    role: InviteRole = "delegate"


class InvitationOut(BaseModel):
    id: str
    meeting_id: str
    role: str
    booth: str | None
    name: str | None
    delegation: str | None
    email: str | None
    language: str | None
    country: str | None
    named: bool
    max_uses: int | None
    uses: int
    expires_at: datetime
    revoked: bool
    revoked_at: datetime | None
    created_at: datetime
    token: str
    join_url: str
    # its e-mail: null (never asked), "queued", "retrying" (mail_error says why), "sent",
    # "failed" (mail_error says why)
    mail_status: str | None = None
    mail_error: str | None = None


class BulkOut(BaseModel):
    count: int
    created: list[InvitationOut]


# --- joining ---------------------------------------------------------------------------------

class JoinIn(Strict):
    token: str = Field(min_length=1, max_length=4096)
    name: OptText = None
    delegation: OptText = None
    # the participant token this browser got from the same link before: the join returns that
    # participant (refused if removed) instead of making a new one
    participant_token: str | None = Field(None, max_length=4096)
    # the language the joiner speaks, one of the meeting's; default: the invitation's
    language: str | None = None

    @field_validator("name", "delegation", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_none(v)

    @field_validator("language", mode="before")
    @classmethod
    def _check_language(cls, v: Any) -> Any:
        return _opt_lang(v)


class JoinPeekIn(Strict):
    token: str = Field(min_length=1, max_length=4096)


class JoinPeekOut(BaseModel):
    meeting: MeetingSummary
    role: str
    booth: str | None
    named: bool
    name: str | None
    delegation: str | None
    language: str | None
    uses_left: int | None  # 0: used up (the browser that used it may still come back)
    rejoin: bool = False  # a named invitation whose person joined already: a join brings them back


class JoinOut(BaseModel):
    participant_id: str
    participant_token: str
    role: str
    booth: str | None
    name: str
    delegation: str | None
    language: str | None
    meeting: MeetingSummary


# --- registrations ---------------------------------------------------------------------------

class RegistrationIn(Strict):
    name: Name
    email: str
    delegation: OptText = None
    role: RegisterRole = "delegate"

    @field_validator("delegation", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return _blank_none(v)

    @field_validator("email", mode="before")
    @classmethod
    def _check_email(cls, v: Any) -> Any:
        return _required_email(v)


class RegistrationInfoOut(BaseModel):
    registration_open: bool
    meeting: MeetingSummary
    # the server e-mails the link once approved (SMTP configured); false: the page promises
    # nothing and the organizer hands the link out
    mail: bool = False


class RegistrationOut(BaseModel):
    id: str
    meeting_id: str
    name: str
    delegation: str | None
    email: str
    role: str
    status: Literal["pending", "approved", "rejected"]
    created_at: datetime
    decided_at: datetime | None
    invitation: InvitationOut | None = None
    join_url: str | None = None
