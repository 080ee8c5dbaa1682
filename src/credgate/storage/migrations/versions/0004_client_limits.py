"""Per-client limits: an hourly token quota and an allowlist of source networks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_quota_per_hour", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("allowed_networks", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("allowed_networks")
        batch_op.drop_column("token_quota_per_hour")
