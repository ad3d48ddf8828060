"""Live captions (docs/captions.md): which channels a meeting captions, and the transcript, one
row per final caption. A nullable column (existing meetings caption nothing) and a new table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("captions", sa.JSON(), nullable=True))
    op.create_table(
        "caption_lines",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("meeting_id", sa.String(length=32),
                  sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("speakers", sa.JSON(), nullable=False),
    )
    op.create_index("ix_caption_lines_meeting_start", "caption_lines", ["meeting_id", "start"])


def downgrade() -> None:
    op.drop_index("ix_caption_lines_meeting_start", table_name="caption_lines")
    op.drop_table("caption_lines")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("captions")
