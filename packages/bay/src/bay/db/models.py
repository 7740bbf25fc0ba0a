"""SQLAlchemy 2 ORM models; timestamps are naive UTC."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(128), index=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Cargo(Base):
    __tablename__ = "cargos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    driver_ref: Mapped[str] = mapped_column(Text)
    managed: Mapped[bool] = mapped_column(Boolean)
    managed_by_sandbox_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    size_limit_mb: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_accessed_at: Mapped[datetime] = mapped_column(DateTime)


class Sandbox(Base):
    """A user's sandbox, or a warm-pool member (`is_warm_pool`) until a create claims it."""

    __tablename__ = "sandboxes"
    __table_args__ = (Index("ix_sandboxes_warm", "is_warm_pool", "profile_id", "warm_state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    profile_id: Mapped[str] = mapped_column(String(128))
    cargo_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("cargos.id", ondelete="SET NULL"), nullable=True
    )
    current_session_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    idle_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    is_warm_pool: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # warming -> available -> claimed (a user's now) | retiring (being deleted)
    warm_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    warm_ready_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    warm_rotate_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    warm_claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    warm_source_profile_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # A create's narrowing of its profile's network policy, as JSON; null: the profile's own.
    network_policy: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The caller's labels, filterable on list, and env merged over the profile's.
    user_metadata: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    user_env: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)


class Session(Base):
    """One run of compute for a sandbox (internal, never exposed)."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sandbox_id: Mapped[str] = mapped_column(String(32), index=True)
    profile_id: Mapped[str] = mapped_column(String(128))
    driver_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Where the session's browser answers (`/browser/*`); null without a browser.
    browser_endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    desired_state: Mapped[str] = mapped_column(String(16))
    observed_state: Mapped[str] = mapped_column(String(16))
    # The replica that started it; only it, or any replica once its lease has expired, reaps it.
    instance_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_observed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ExecutionHistory(Base):
    __tablename__ = "execution_history"
    # Browser learning claims the oldest pending rows.
    __table_args__ = (Index("ix_execution_history_learn", "learn_status", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    sandbox_id: Mapped[str] = mapped_column(String(32), index=True)
    session_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    exec_type: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(Text)
    success: Mapped[bool] = mapped_column(Boolean)
    execution_time_ms: Mapped[int] = mapped_column(Integer)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[str | None] = mapped_column(Text, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # running: written before Ship is called, so a Bay killed meanwhile still has the row.
    status: Mapped[str] = mapped_column(String(16), default="finished", server_default="finished")
    # A browser trace (`blob:…`) the execution left, and what browser learning made of it:
    # pending -> processing -> processed | skipped (learn_error says why) | error; while
    # `processing`, learn_processed_at is when the claim was taken (a stale one is taken over).
    payload_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    learn_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    learn_status: Mapped[str] = mapped_column(
        String(16), default="skipped", server_default="skipped"
    )
    learn_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    learn_processed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class IdempotencyKey(Base):
    """`(owner, key)` claimed before the operation runs; the response is stored with its result."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    response_snapshot: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # The replica running the first request: a claim of a replica whose lease ran out is taken over.
    instance_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Lease(Base):
    """A named lease held by one Bay replica at a time: a job (`gc`, `warm-pool`), or a
    replica's own liveness (`replica:<instance id>`)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ArtifactBlob(Base):
    """A JSON document referred to as `blob:{id}`: skill payloads and browser traces."""

    __tablename__ = "artifact_blobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SkillCandidate(Base):
    """A skill made from executions; evaluated, then promoted into releases."""

    __tablename__ = "skill_candidates"
    __table_args__ = (Index("ix_skill_candidates_owner_key", "owner", "skill_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    skill_key: Mapped[str] = mapped_column(String(128))
    scenario_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    payload_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    skill_type: Mapped[str] = mapped_column(String(16))
    auto_release_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    usage_notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    preconditions: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    postconditions: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    source_execution_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    latest_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    latest_pass: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    promotion_release_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    delete_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class SkillEvaluation(Base):
    __tablename__ = "skill_evaluations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    candidate_id: Mapped[str] = mapped_column(String(32), index=True)
    benchmark_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    evaluated_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SkillRelease(Base):
    """A numbered version of a skill key; at most one per owner and key is active."""

    __tablename__ = "skill_releases"
    __table_args__ = (
        Index("uq_skill_releases_version", "owner", "skill_key", "version", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    skill_key: Mapped[str] = mapped_column(String(128))
    candidate_id: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean)
    release_mode: Mapped[str] = mapped_column(String(16))
    promoted_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    promoted_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    rollback_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    auto_promoted_from: Mapped[str | None] = mapped_column(String(32), nullable=True)
    health_window_end_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    upgrade_of_release_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    upgrade_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    change_summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    delete_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
