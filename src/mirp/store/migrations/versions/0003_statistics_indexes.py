"""Indexes for the trends (store/trends.py): its queries pick meetings by owner and date, then
read each meeting's participants, speaking turns and on-air turns. The child indexes carry the
columns the aggregates read, so both databases answer from the index alone (no table lookups
over hundreds of thousands of rows).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 01:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_meetings_owner_starts": ("meetings", ["owner_id", "starts_at", "created_at"]),
    "ix_participants_stats": ("participants", ["meeting_id", "role", "delegation", "id"]),
    "ix_speaking_turns_stats": ("speaking_turns", ["meeting_id", "floor_language", "participant_id",
                                                   "started_at", "ended_at"]),
    "ix_on_air_turns_stats": ("on_air_turns", ["meeting_id", "channel", "started_at",
                                               "ended_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
