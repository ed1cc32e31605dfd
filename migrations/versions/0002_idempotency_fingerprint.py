"""idempotency keys: a request fingerprint, unique on the key alone, expiry

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:40:00

Existing keys are deleted: they carry no fingerprint to compare a repeat against, and keys of
different callers may share a value that must now be unique. They are a retry cache of at most
a day; a client repeating a request across the upgrade is the only one affected.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=False))
        batch_op.drop_constraint('uq_idempotency_keys_actor_key', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_idempotency_keys_key'), ['key'])
        batch_op.create_index(batch_op.f('ix_idempotency_keys_created_at'), ['created_at'], unique=False)


def downgrade():
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_created_at'))
        batch_op.drop_constraint(batch_op.f('uq_idempotency_keys_key'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_idempotency_keys_actor_key'), ['actor', 'key'])
        batch_op.drop_column('fingerprint')
