"""The CPU side of invitations in bulk: CSV parsing, token signing, rendering pages and exports.

Everything here is pure (no database, no event loop) and runs in the worker pool (work.py):
on the control loop, 5000 signatures and a 4 MB JSON answer stopped every meeting's audio for
seconds. Invitations cross the process boundary as `InvitationData` (plain values), never as ORM
rows. invites.py does the database side and calls these through `work.run`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mirp import tokens
from mirp.errors import InvalidInput
from mirp.ids import new_id
from mirp.store.schemas import EMAIL, BulkOut, InvitationOut, RegistrationOut, opt_country

MAX_BULK_ROWS = 5000
EXPORT_COLUMNS = ("name", "delegation", "email", "role", "booth", "max_uses", "uses",
                  "expires_at", "revoked", "join_url", "id")


@dataclass(frozen=True, slots=True)
class InvitationData:
    """One invitation row as plain values (what a worker needs to sign and render it)."""

    id: str
    meeting_id: str
    role: str
    booth: str | None
    name: str | None
    delegation: str | None
    email: str | None
    max_uses: int | None
    uses: int
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime
    language: str | None = None
    country: str | None = None
    mail_status: str | None = None  # store/mail.py
    mail_error: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One delegate line of a CSV upload."""

    line: int
    name: str
    delegation: str | None
    email: str | None
    booth: str | None
    language: str | None = None  # the language the delegate speaks (checked by prepare_bulk)
    country: str | None = None  # the delegation's ISO 3166-1 alpha-2 code (checked on parsing)


# --- signing and rendering -------------------------------------------------------------------

def join_url(base_url: str, token: str) -> str:
    return f"{base_url}/join.html#t={token}"


def sign(secret: str, inv: InvitationData) -> str:
    return tokens.issue_invitation(
        secret, meeting_id=inv.meeting_id, invitation_id=inv.id, role=inv.role,
        booth=inv.booth, expires_at=inv.expires_at.timestamp())


def view(secret: str, base_url: str, inv: InvitationData) -> InvitationOut:
    token = sign(secret, inv)
    return InvitationOut(
        id=inv.id, meeting_id=inv.meeting_id, role=inv.role, booth=inv.booth, name=inv.name,
        delegation=inv.delegation, email=inv.email, language=inv.language, country=inv.country,
        named=inv.name is not None,
        max_uses=inv.max_uses, uses=inv.uses, expires_at=inv.expires_at,
        revoked=inv.revoked_at is not None, revoked_at=inv.revoked_at,
        created_at=inv.created_at, token=token, join_url=join_url(base_url, token),
        mail_status=inv.mail_status, mail_error=inv.mail_error)


def render_list(secret: str, base_url: str, items: list[InvitationData]) -> bytes:
    """A JSON array of Invitation (the listing's body)."""
    parts = [view(secret, base_url, inv).model_dump_json() for inv in items]
    return ("[" + ",".join(parts) + "]").encode()


def render_bulk(secret: str, base_url: str, items: list[InvitationData]) -> bytes:
    """The bulk upload's body: `{count, created: [Invitation]}`."""
    created = [view(secret, base_url, inv) for inv in items]
    return BulkOut(count=len(items), created=created).model_dump_json().encode()


def render_csv(secret: str, base_url: str, items: list[InvitationData], header: bool) -> bytes:
    """One chunk of the CSV export (UTF-8; the header row only in the first chunk)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(EXPORT_COLUMNS)
    for inv in items:
        v = view(secret, base_url, inv)
        writer.writerow([_safe(v.name), _safe(v.delegation), _safe(v.email), v.role,
                         v.booth or "", "" if v.max_uses is None else v.max_uses, v.uses,
                         v.expires_at.isoformat(), "yes" if v.revoked else "no", v.join_url,
                         v.id])
    return out.getvalue().encode()


def _safe(cell: str | None) -> str:
    """A cell a spreadsheet will not run as a formula (names come from uploads and strangers)."""
    if not cell:
        return ""
    return "'" + cell if cell[0] in "=+-@\t\r" else cell


@dataclass(frozen=True, slots=True)
class RegistrationData:
    """One self-registration as plain values, with its invitation once approved."""

    id: str
    meeting_id: str
    name: str
    delegation: str | None
    email: str
    requested_role: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    invitation: InvitationData | None


def registration_view(secret: str, base_url: str, r: RegistrationData) -> RegistrationOut:
    inv = view(secret, base_url, r.invitation) if r.invitation is not None else None
    return RegistrationOut(
        id=r.id, meeting_id=r.meeting_id, name=r.name, delegation=r.delegation, email=r.email,
        role=r.requested_role, status=r.status,  # type: ignore[arg-type]
        created_at=r.created_at, decided_at=r.decided_at, invitation=inv,
        join_url=inv.join_url if inv else None)


def render_registrations(secret: str, base_url: str, items: list[RegistrationData]) -> bytes:
    """A JSON array of Registration (a page of the listing; approved ones carry a signed link)."""
    parts = [registration_view(secret, base_url, r).model_dump_json() for r in items]
    return ("[" + ",".join(parts) + "]").encode()


# --- a bulk upload ---------------------------------------------------------------------------

def prepare_bulk(meeting_id: str, role: str, rows: list[Row], booths: list[str],
                 expires_at: datetime, now: datetime,
                 languages: Sequence[str] = ()) -> list[InvitationData]:
    """The new invitations of an upload, every booth and language checked (a bad one raises
    InvalidInput naming its line, before anything is written)."""
    prepared = []
    for i, row in enumerate(rows):
        where = f"csv line {row.line}"
        if row.language is not None and row.language not in languages:
            raise InvalidInput(f"{where}: {row.language!r} is not one of the meeting's "
                               "languages", {"field": where, "languages": list(languages)})
        if role == "interpreter":
            if row.booth is None:
                raise InvalidInput(f"{where}: an interpreter's invitation names a booth",
                                   {"field": where, "booths": booths})
            if row.booth not in booths:
                raise InvalidInput(f"{where}: the meeting has no {row.booth!r} booth",
                                   {"field": where, "booths": booths})
        elif row.booth is not None:
            raise InvalidInput(f"{where}: only interpreters belong to a booth", {"field": where})
        prepared.append(InvitationData(
            id=new_id("i"), meeting_id=meeting_id, role=role, booth=row.booth, name=row.name,
            delegation=row.delegation, email=row.email, max_uses=1, uses=0,
            expires_at=expires_at, revoked_at=None, language=row.language, country=row.country,
            created_at=now + timedelta(microseconds=i)))  # listed in the file's order
    return prepared


def prepare_and_render(secret: str, base_url: str, meeting_id: str, role: str,
                       rows: list[Row], booths: list[str], expires_at: datetime,
                       now: datetime,
                       languages: Sequence[str] = (),
                       mail: bool = False) -> tuple[list[InvitationData], bytes]:
    """One trip to a worker for the whole upload: the rows to insert and the answer's body,
    tokens signed, before any write transaction is opened. `mail`: the rows with an e-mail
    are queued for the outbox (store/mail.py)."""
    items = prepare_bulk(meeting_id, role, rows, booths, expires_at, now, languages)
    if mail:
        items = [replace(i, mail_status="queued") if i.email else i for i in items]
    return items, render_bulk(secret, base_url, items)


# --- the CSV of delegates --------------------------------------------------------------------

def _delimiter(text: str) -> str:
    """Comma, or the semicolon / tab that spreadsheets in many locales write instead."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(text: str) -> list[tuple[int, list[str]]]:
    """(physical line number, cells) per record, blank lines skipped."""
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((line, [c.strip() for c in cells]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"csv line {reader.line_num}: {exc}",
                           {"field": "csv", "line": reader.line_num}) from exc
    return records


def parse_delegates_csv(text: str) -> list[Row]:
    """`name, delegation, e-mail` per line (a header line naming these columns is optional;
    an optional `booth` column serves interpreters, an optional `language` column says what
    each delegate speaks, an optional `country` column gives the delegation's ISO 3166-1
    alpha-2 code; `;` or tab separators work too). Raises
    InvalidInput naming the line."""
    records = _read_csv(text)
    columns = ["name", "delegation", "email"]
    if records:
        header = [c.lower().replace("-", "").replace(" ", "") for c in records[0][1]]
        if "name" in header:
            unknown = [c for c in header
                       if c not in ("name", "delegation", "email", "booth", "language",
                                    "country")]
            if unknown:
                raise InvalidInput(f"csv line {records[0][0]}: unknown column {unknown[0]!r}",
                                   {"field": "csv", "line": records[0][0]})
            columns, records = header, records[1:]
    rows: list[Row] = []
    for line, cells in records:
        if len(cells) > len(columns):
            raise InvalidInput(
                f"csv line {line}: {len(cells)} columns, expected at most {len(columns)} "
                f"({', '.join(columns)})", {"field": "csv", "line": line})
        values = dict(zip(columns, cells, strict=False))
        name = values.get("name", "")
        if not name:
            raise InvalidInput(f"csv line {line}: the name is missing",
                               {"field": "csv", "line": line})
        if len(name) > 200 or len(values.get("delegation", "")) > 200:
            raise InvalidInput(f"csv line {line}: too long", {"field": "csv", "line": line})
        email = values.get("email") or None
        if email is not None and (len(email) > 320 or not EMAIL.match(email)):
            raise InvalidInput(f"csv line {line}: {email!r} is not an e-mail address",
                               {"field": "csv", "line": line})
        try:
            country = opt_country(values.get("country"))
        except ValueError as exc:
            raise InvalidInput(f"csv line {line}: {exc}", {"field": "csv", "line": line}) from None
        rows.append(Row(line, name, values.get("delegation") or None, email,
                        (values.get("booth") or "").lower() or None,
                        (values.get("language") or "").lower() or None, country))
        if len(rows) > MAX_BULK_ROWS:
            raise InvalidInput(f"csv: more than {MAX_BULK_ROWS} rows", {"field": "csv"})
    if not rows:
        raise InvalidInput("csv: no delegate in it", {"field": "csv"})
    return rows
