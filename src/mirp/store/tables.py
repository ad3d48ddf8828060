"""The database tables (SQLAlchemy 2 declarative). docs/data-model.md explains them.

Portable between SQLite and PostgreSQL: string ids (mirp.ids), JSON lists, and timestamps kept as
timezone-aware UTC (`UtcDateTime` re-attaches UTC on SQLite, which stores naive values).
Children are deleted explicitly by the repository (and by ON DELETE CASCADE where the database
enforces foreign keys), so deleting a meeting takes everything of it in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


ID = String(32)


def meeting_fk() -> ForeignKey:
    return ForeignKey("meetings.id", ondelete="CASCADE")


class Organizer(Base):
    __tablename__ = "organizers"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # kept lower-case
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Meeting(Base):
    __tablename__ = "meetings"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    languages: Mapped[list[str]] = mapped_column(JSON)  # ISO 639-1, in display order
    under_levels_db: Mapped[list[int]] = mapped_column(JSON)
    capacity: Mapped[int] = mapped_column(Integer, default=500)
    # the channels captioned live ("floor" or languages; migration 0006, docs/captions.md)
    captions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    registration_open: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # the webcast and the recordings (docs/webcast.md; migration 0007)
    webcast: Mapped[str] = mapped_column(String(8), default="off")  # public | token | off
    recording: Mapped[bool] = mapped_column(Boolean, default=False)
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: kept
    # the trends (store/trends.py; migration 0003): meetings by owner and date
    __table_args__ = (Index("ix_meetings_owner_starts", "owner_id", "starts_at", "created_at"),)


class Booth(Base):
    __tablename__ = "booths"
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    retour: Mapped[str | None] = mapped_column(String(8), nullable=True)
    understands: Mapped[list[str]] = mapped_column(JSON)
    auto_floor: Mapped[bool] = mapped_column(Boolean, default=True)


class Invitation(Base):
    __tablename__ = "invitations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), index=True)
    role: Mapped[str] = mapped_column(String(16))
    booth: Mapped[str | None] = mapped_column(String(8), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: an open link
    delegation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # the language its participant speaks (one of the meeting's); None: the joiner says, or unknown
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # the delegation's country, ISO 3166-1 alpha-2 upper-case (statistics); None: not given
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # its e-mail (store/mail.py): None never asked; "queued", "retrying" (mail_error says why),
    # "sent", "failed". mail_next_at: when the outbox tries next (None: nothing to send).
    mail_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    mail_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mail_next_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    mail_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Participant(Base):
    """One per successful join: the identity a participant token names."""

    __tablename__ = "participants"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), index=True)
    invitation_id: Mapped[str | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    delegation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    booth: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # the language they speak (drives the Room's automatic floor language); None: unknown
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    removed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (Index("ix_participants_stats", "meeting_id", "role", "delegation", "id"),)


class Registration(Base):
    __tablename__ = "registrations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), index=True)
    name: Mapped[str] = mapped_column(String(200))
    delegation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str] = mapped_column(String(320))
    requested_role: Mapped[str] = mapped_column(String(16), default="delegate")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    invitation_id: Mapped[str | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


# --- append-only statistics (written by Admission.record) -----------------------------------

class Attendance(Base):
    __tablename__ = "attendance"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk())
    participant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # join | leave
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    delegation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    booth: Mapped[str | None] = mapped_column(String(8), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(8), nullable=True)
    __table_args__ = (Index("ix_attendance_meeting_at", "meeting_id", "at"),)


class SpeakingTurn(Base):
    __tablename__ = "speaking_turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), index=True)
    participant_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    floor_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    __table_args__ = (Index("ix_speaking_turns_stats", "meeting_id", "floor_language",
                            "participant_id", "started_at", "ended_at"),)


class OnAirTurn(Base):
    __tablename__ = "on_air_turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), index=True)
    participant_id: Mapped[str] = mapped_column(String(64))
    booth: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (Index("ix_on_air_turns_stats", "meeting_id", "channel", "started_at",
                            "ended_at"),)


class Listening(Base):
    __tablename__ = "listening"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), index=True)
    participant_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    under_level_db: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Lifecycle(Base):
    __tablename__ = "lifecycle"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # opened | closed | removed
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class QualitySample(Base):
    """A participant's connection as their client reported it, sampled by the Room."""

    __tablename__ = "quality_samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk())
    participant_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    grade: Mapped[str] = mapped_column(String(16))  # good | fair | poor | unknown
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    rtt_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)  # a fraction, 0..1
    jitter_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (Index("ix_quality_samples_meeting_at", "meeting_id", "at"),)


class QualityTotal(Base):
    """A meeting's quality samples summed (kept by Admission.record with the samples, in the
    same transaction): the trends read one row per meeting instead of every sample. Always
    recomputable from `quality_samples`."""

    __tablename__ = "quality_totals"
    meeting_id: Mapped[str] = mapped_column(meeting_fk(), primary_key=True)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    good: Mapped[int] = mapped_column(Integer, default=0)
    fair: Mapped[int] = mapped_column(Integer, default=0)
    poor: Mapped[int] = mapped_column(Integer, default=0)
    rtt_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)
    rtt_samples: Mapped[int] = mapped_column(Integer, default=0)  # samples that measured RTT


class FailedJoin(Base):
    """A join refused with its reason code (capped per meeting per minute: rooms/refusals.py)."""

    __tablename__ = "failed_joins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(meeting_fk())
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    participant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    __table_args__ = (Index("ix_failed_joins_meeting_at", "meeting_id", "at"),)


STATISTICS = (Attendance, SpeakingTurn, OnAirTurn, Listening, Lifecycle, QualitySample,
              QualityTotal, FailedJoin)


class CaptionLine(Base):
    """One final caption of one channel (migration 0006): the transcript, a first draft of the
    verbatim record. `speakers`: the floor holders' names when it was said."""

    __tablename__ = "caption_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(String(4000))
    speakers: Mapped[list[str]] = mapped_column(JSON)
    __table_args__ = (Index("ix_caption_lines_meeting_start", "meeting_id", "start"),)
