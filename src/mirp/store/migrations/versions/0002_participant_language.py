"""The language a participant speaks (from their invitation or their join): the Room's automatic
floor language follows whoever holds the floor.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("invitations", "participants"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    for table in ("participants", "invitations"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("language")
