"""Connection quality samples (and their per-meeting totals, for the trends), refused joins,
and a delegation's country on invitations (docs/statistics.md): new tables and one nullable
column; existing rows are kept.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 01:40:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _meeting(table: str) -> list[Any]:
    return [sa.Column("meeting_id", sa.String(length=32), nullable=False),
            sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], ondelete="CASCADE",
                                    name=op.f(f"fk_{table}_meeting_id_meetings"))]


def upgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
    op.create_table(
        "quality_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_meeting("quality_samples"),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rtt_ms", sa.Float(), nullable=True),
        sa.Column("loss", sa.Float(), nullable=True),
        sa.Column("jitter_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_samples")),
    )
    op.create_index("ix_quality_samples_meeting_at", "quality_samples", ["meeting_id", "at"])
    op.create_table(
        "quality_totals",
        *_meeting("quality_totals"),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("good", sa.Integer(), nullable=False),
        sa.Column("fair", sa.Integer(), nullable=False),
        sa.Column("poor", sa.Integer(), nullable=False),
        sa.Column("rtt_ms_sum", sa.Float(), nullable=False),
        sa.Column("rtt_samples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_quality_totals")),
    )
    op.create_table(
        "failed_joins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_meeting("failed_joins"),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_joins")),
    )
    op.create_index("ix_failed_joins_meeting_at", "failed_joins", ["meeting_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_failed_joins_meeting_at", table_name="failed_joins")
    op.drop_table("failed_joins")
    op.drop_table("quality_totals")
    op.drop_index("ix_quality_samples_meeting_at", table_name="quality_samples")
    op.drop_table("quality_samples")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("country")
