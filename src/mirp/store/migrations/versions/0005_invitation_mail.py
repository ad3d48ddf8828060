"""Invitation e-mail: each invitation's mail status and when the outbox tries it next
(store/mail.py). Nullable columns and a zero counter: existing rows are kept, never mailed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 01:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mail_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("mail_error", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("mail_attempts", sa.Integer(), server_default="0",
                                      nullable=False))
        batch_op.add_column(sa.Column("mail_next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("mail_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_invitations_mail_next_at"), ["mail_next_at"])


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_mail_next_at"))
        for column in ("mail_sent_at", "mail_next_at", "mail_attempts", "mail_error",
                       "mail_status"):
            batch_op.drop_column(column)
