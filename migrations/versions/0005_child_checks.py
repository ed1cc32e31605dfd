"""child health checks (0–6 years); a plan's kind (which check of a programme's schedule)

Revision ID: 0005
Revises: 0004

"""
from alembic import op
import sqlalchemy as sa
import app.common.types
from sqlalchemy import Text  # JSONB(astext_type=Text()) in generated code
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('child_checks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('checked_on', sa.Date(), nullable=False),
    sa.Column('age_days', sa.SmallInteger(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('weight_kg', sa.Float(), nullable=True),
    sa.Column('height_cm', sa.Float(), nullable=True),
    sa.Column('head_circumference_cm', sa.Float(), nullable=True),
    sa.Column('hemoglobin', sa.Float(), nullable=True),
    sa.Column('development', sa.String(length=10), nullable=True),
    sa.Column('eye_checked', sa.Boolean(), nullable=False),
    sa.Column('eye', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('tcm_guidance', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('guidance', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', app.common.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_child_checks_institution_id_institutions')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff.id'], name=op.f('fk_child_checks_recorded_by_id_staff')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_child_checks_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_child_checks'))
    )
    with op.batch_alter_table('child_checks', schema=None) as batch_op:
        batch_op.create_index('ix_child_checks_checked_on', ['checked_on'], unique=False)
        batch_op.create_index('uq_child_checks_resident_kind', ['resident_id', 'kind'], unique=True)

    with op.batch_alter_table('followup_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=True))



def downgrade():
    with op.batch_alter_table('followup_plans', schema=None) as batch_op:
        batch_op.drop_column('kind')

    with op.batch_alter_table('child_checks', schema=None) as batch_op:
        batch_op.drop_index('uq_child_checks_resident_kind')
        batch_op.drop_index('ix_child_checks_checked_on')

    op.drop_table('child_checks')
