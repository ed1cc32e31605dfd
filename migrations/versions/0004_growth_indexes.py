"""growth: partial outbox claim index; access log walked by (at, id) for retention

Revision ID: 0004
Revises: 0003

"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNDELIVERED = "status IN ('pending', 'sending')"


def upgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.create_index(
            "ix_outbox_due",
            ["next_attempt_at", "id"],
            unique=False,
            postgresql_where=sa.text(UNDELIVERED),
            sqlite_where=sa.text(UNDELIVERED),
        )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_at_id", ["at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_access_log_at_id")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
