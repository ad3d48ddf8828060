"""The webcast and recording options of a meeting (docs/webcast.md): existing meetings get
webcast off, recording off, recordings kept.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (SQLite has it): a batch that recreated `meetings` would drop it, and
    # with it, through ON DELETE CASCADE, every row that names a meeting
    op.add_column("meetings", sa.Column("webcast", sa.String(length=8), server_default="off",
                                        nullable=False))
    op.add_column("meetings", sa.Column("recording", sa.Boolean(), server_default=sa.false(),
                                        nullable=False))
    op.add_column("meetings", sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    for column in ("retention_days", "recording", "webcast"):  # ALTER TABLE DROP COLUMN
        op.drop_column("meetings", column)  # (SQLite 3.35+): no copy of `meetings`
