"""The webcast and recording options of a meeting (docs/webcast.md): existing meetings get
webcast off, recording off, recordings kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:20:00
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
        batch_op.add_column(sa.Column("webcast", sa.String(length=8), server_default="off",
                                      nullable=False))
        batch_op.add_column(sa.Column("recording", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        for column in ("retention_days", "recording", "webcast"):
            batch_op.drop_column(column)
