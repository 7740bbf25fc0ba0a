"""`shipyard skills …`: payloads, candidates made from executions, releases, and replaying one."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli._browser import KeepGoing, Tags, Trace, show_batch
from shipyard.cli._common import Json, SandboxOption, connect, emit, emit_table, fail
from shipyard_protocol.skills import SkillRelease

skills_app = typer.Typer(
    help="Skills: candidates from executions, evaluated, released, rolled back, replayed.",
    no_args_is_help=True,
)
candidates_app = typer.Typer(help="Candidates made from executions.", no_args_is_help=True)
releases_app = typer.Typer(help="Released versions of skills.", no_args_is_help=True)
payloads_app = typer.Typer(help="JSON payloads a candidate points to.", no_args_is_help=True)
skills_app.add_typer(candidates_app, name="candidates")
skills_app.add_typer(releases_app, name="releases")
skills_app.add_typer(payloads_app, name="payloads")

CandidateId = Annotated[str, typer.Argument(help="The candidate id, sc-….", show_default=False)]
ReleaseId = Annotated[str, typer.Argument(help="The release id, sr-….", show_default=False)]
SkillKey = Annotated[str, typer.Argument(help="The skill's key.", show_default=False)]
SkillFilter = Annotated[str | None, typer.Option("--skill", help="Only this skill key.")]
Limit = Annotated[int, typer.Option(help="Page size (1-500).")]
Offset = Annotated[int, typer.Option(help="Skip this many.")]
Reason = Annotated[str | None, typer.Option(help="Why, recorded with the deletion.")]
CANDIDATE_COLUMNS = ("id", "skill_key", "status", "latest_score", "created_at")
RELEASE_COLUMNS = ("id", "skill_key", "version", "stage", "is_active")


def _release_line(release: SkillRelease) -> str:
    return f"{release.id} ({release.skill_key} v{release.version}, {release.stage})"


def _more(shown: int, offset: int, total: int) -> None:
    if offset + shown < total:
        typer.echo(f"more: --offset {offset + shown} ({total} in all)", err=True)


@candidates_app.command("create")
def create_candidate(
    ctx: typer.Context,
    skill_key: SkillKey,
    execution_ids: Annotated[
        list[str], typer.Argument(help="Your executions it is made from, exec-….")
    ],
    payload: Annotated[str | None, typer.Option(help="A payload ref, blob:….")] = None,
    summary: Annotated[str | None, typer.Option(help="What the skill does.")] = None,
    usage_notes: Annotated[str | None, typer.Option(help="How to use it.")] = None,
    scenario: Annotated[str | None, typer.Option(help="Scenario key.")] = None,
    as_json: Json = False,
) -> None:
    """Make a draft candidate from executions and print its id."""
    with connect(ctx) as client:
        made = client.skills.create_candidate(
            skill_key=skill_key,
            source_execution_ids=execution_ids,
            payload_ref=payload,
            summary=summary,
            usage_notes=usage_notes,
            scenario_key=scenario,
        )
    emit(as_json, made, made.id)


@candidates_app.command("list")
def list_candidates(
    ctx: typer.Context,
    skill: SkillFilter = None,
    status: Annotated[str | None, typer.Option(help="Only this status (draft, …).")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    as_json: Json = False,
) -> None:
    """List candidates, newest first."""
    with connect(ctx) as client:
        page = client.skills.list_candidates(
            status=status, skill_key=skill, limit=limit, offset=offset
        )
    if as_json:
        return emit(True, page)
    emit_table(page.items, CANDIDATE_COLUMNS)
    _more(len(page.items), offset, page.total)


@candidates_app.command("show")
def show_candidate(ctx: typer.Context, candidate_id: CandidateId, as_json: Json = False) -> None:
    """Show one candidate."""
    with connect(ctx) as client:
        emit(as_json, client.skills.get_candidate(candidate_id))


@candidates_app.command("evaluate")
def evaluate_candidate(
    ctx: typer.Context,
    candidate_id: CandidateId,
    passed: Annotated[
        bool,
        typer.Option("--passed/--failed", help="The evaluation's verdict.", show_default=False),
    ],
    score: Annotated[float | None, typer.Option(help="A score.")] = None,
    benchmark: Annotated[str | None, typer.Option(help="The benchmark's id.")] = None,
    report: Annotated[str | None, typer.Option(help="A report.")] = None,
    as_json: Json = False,
) -> None:
    """Record an evaluation; a failed one rejects the candidate."""
    with connect(ctx) as client:
        evaluation = client.skills.evaluate_candidate(
            candidate_id, passed=passed, score=score, benchmark_id=benchmark, report=report
        )
    verdict = "passed" if passed else "failed"
    emit(as_json, evaluation, f"{evaluation.id}: {candidate_id} {verdict}")


@candidates_app.command("promote")
def promote_candidate(
    ctx: typer.Context,
    candidate_id: CandidateId,
    stage: Annotated[str, typer.Option(help="canary or stable.")] = "canary",
    change_summary: Annotated[str | None, typer.Option(help="What changed.")] = None,
    as_json: Json = False,
) -> None:
    """Release a candidate whose latest evaluation passed; prints the release id."""
    with connect(ctx) as client:
        release = client.skills.promote_candidate(
            candidate_id, stage=stage, change_summary=change_summary
        )
    emit(as_json, release, _release_line(release))


@candidates_app.command("delete")
def delete_candidate(
    ctx: typer.Context, candidate_id: CandidateId, reason: Reason = None, as_json: Json = False
) -> None:
    """Delete a candidate no active release serves."""
    with connect(ctx) as client:
        deleted = client.skills.delete_candidate(candidate_id, reason=reason)
    emit(as_json, deleted, f"deleted {deleted.id}")


@releases_app.command("list")
def list_releases(
    ctx: typer.Context,
    skill: SkillFilter = None,
    active: Annotated[bool, typer.Option("--active", help="Only active releases.")] = False,
    stage: Annotated[str | None, typer.Option(help="Only canary or stable.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    as_json: Json = False,
) -> None:
    """List releases, newest first."""
    with connect(ctx) as client:
        page = client.skills.list_releases(
            skill_key=skill, active_only=active, stage=stage, limit=limit, offset=offset
        )
    if as_json:
        return emit(True, page)
    emit_table(page.items, RELEASE_COLUMNS)
    _more(len(page.items), offset, page.total)


@releases_app.command("health")
def release_health(ctx: typer.Context, release_id: ReleaseId, as_json: Json = False) -> None:
    """A release's success and error rates in its window, and whether to roll it back."""
    with connect(ctx) as client:
        emit(as_json, client.skills.get_release_health(release_id))


@releases_app.command("rollback")
def rollback_release(ctx: typer.Context, release_id: ReleaseId, as_json: Json = False) -> None:
    """Serve the previous release's candidate again, as a new version; prints its id."""
    with connect(ctx) as client:
        release = client.skills.rollback_release(release_id)
    emit(as_json, release, _release_line(release))


@releases_app.command("delete")
def delete_release(
    ctx: typer.Context, release_id: ReleaseId, reason: Reason = None, as_json: Json = False
) -> None:
    """Delete a release, active or not."""
    with connect(ctx) as client:
        deleted = client.skills.delete_release(release_id, reason=reason)
    emit(as_json, deleted, f"deleted {deleted.id}")


def _read_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        return json.loads(text)
    except OSError as exc:
        fail(f"Error: cannot read {source}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"Error: {source} is not JSON: {exc}")


@payloads_app.command("create")
def create_payload(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="A JSON file (object or array), or - for stdin.")],
    kind: Annotated[str, typer.Option(help="What the payload is.")] = "generic",
    as_json: Json = False,
) -> None:
    """Store a JSON payload and print its ref."""
    payload = _read_json(file)
    if not isinstance(payload, dict | list):
        fail("Error: a payload is a JSON object or array")
    with connect(ctx) as client:
        ref = client.skills.create_payload(payload=payload, kind=kind)
    emit(as_json, ref, ref.payload_ref)


@payloads_app.command("show")
def show_payload(
    ctx: typer.Context,
    payload_ref: Annotated[str, typer.Argument(help="The ref, blob:….", show_default=False)],
    as_json: Json = False,
) -> None:
    """Print a payload's JSON (`--json`: with its ref and kind)."""
    with connect(ctx) as client:
        stored = client.skills.get_payload(payload_ref)
    emit(as_json, stored, json.dumps(stored.payload, indent=2))


@skills_app.command("run")
def run(
    ctx: typer.Context,
    skill_key: SkillKey,
    sandbox: SandboxOption,
    timeout: Annotated[int, typer.Option(help="Seconds for all its steps (1-600).")] = 60,
    keep_going: KeepGoing = False,
    trace: Trace = False,
    tags: Tags = None,
    as_json: Json = False,
) -> None:
    """Replay the skill's active release in the sandbox's browser, printed as `shipyard
    browser` prints a batch."""
    with connect(ctx) as client:
        result = client.sandboxes.get(sandbox).browser.run_skill(
            skill_key,
            timeout=timeout,
            stop_on_error=not keep_going,
            include_trace=trace,
            tags=tags,
        )
        if not as_json:
            typer.echo(f"{result.skill_key}: release {result.release_id}", err=True)
        status = show_batch(result, as_json)
    raise status
