"""skills: payload blobs, candidates, evaluations, releases

A descriptive id, not a number: another branch may add its own 0007; rename at merge.

Revision ID: 0007_skills
Revises: 0006
Create Date: 2026-12-07 06:17:52.044033
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_skills"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifact_blobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("artifact_blobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifact_blobs_owner"), ["owner"], unique=False)

    op.create_table(
        "skill_candidates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("skill_key", sa.String(length=128), nullable=False),
        sa.Column("scenario_key", sa.String(length=128), nullable=True),
        sa.Column("payload_ref", sa.String(length=64), nullable=True),
        sa.Column("skill_type", sa.String(length=16), nullable=False),
        sa.Column("auto_release_eligible", sa.Boolean(), nullable=False),
        sa.Column("auto_release_reason", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("usage_notes", sa.Text(), nullable=True),
        sa.Column("preconditions", sa.JSON(), nullable=True),
        sa.Column("postconditions", sa.JSON(), nullable=True),
        sa.Column("source_execution_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("latest_score", sa.Float(), nullable=True),
        sa.Column("latest_pass", sa.Boolean(), nullable=True),
        sa.Column("last_evaluated_at", sa.DateTime(), nullable=True),
        sa.Column("promotion_release_id", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by", sa.String(length=128), nullable=True),
        sa.Column("delete_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("skill_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_skill_candidates_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index("ix_skill_candidates_owner_key", ["owner", "skill_key"], unique=False)

    op.create_table(
        "skill_evaluations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("candidate_id", sa.String(length=32), nullable=False),
        sa.Column("benchmark_id", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("evaluated_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("skill_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_skill_evaluations_candidate_id"), ["candidate_id"], unique=False
        )

    op.create_table(
        "skill_releases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("skill_key", sa.String(length=128), nullable=False),
        sa.Column("candidate_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("release_mode", sa.String(length=16), nullable=False),
        sa.Column("promoted_by", sa.String(length=128), nullable=True),
        sa.Column("promoted_at", sa.DateTime(), nullable=False),
        sa.Column("rollback_of", sa.String(length=32), nullable=True),
        sa.Column("auto_promoted_from", sa.String(length=32), nullable=True),
        sa.Column("health_window_end_at", sa.DateTime(), nullable=True),
        sa.Column("upgrade_of_release_id", sa.String(length=32), nullable=True),
        sa.Column("upgrade_reason", sa.Text(), nullable=True),
        sa.Column("change_summary", sa.Text(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by", sa.String(length=128), nullable=True),
        sa.Column("delete_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("skill_releases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_skill_releases_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(
            "uq_skill_releases_version", ["owner", "skill_key", "version"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_skill_releases_promoted_at"), ["promoted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("skill_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_releases_promoted_at"))
        batch_op.drop_index("uq_skill_releases_version")
        batch_op.drop_index(batch_op.f("ix_skill_releases_candidate_id"))

    op.drop_table("skill_releases")
    with op.batch_alter_table("skill_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_evaluations_candidate_id"))

    op.drop_table("skill_evaluations")
    with op.batch_alter_table("skill_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_skill_candidates_owner_key")
        batch_op.drop_index(batch_op.f("ix_skill_candidates_created_at"))

    op.drop_table("skill_candidates")
    with op.batch_alter_table("artifact_blobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifact_blobs_owner"))

    op.drop_table("artifact_blobs")
