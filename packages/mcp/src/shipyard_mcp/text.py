"""What tools answer: local argument checks, bounded text, and readable renderings of models."""

import json
import re
from pathlib import PurePosixPath
from typing import Any

from shipyard import ShipyardError
from shipyard_protocol import api, ship, skills

SANDBOX_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class ToolInputError(Exception):
    """An argument refused before anything is sent to Bay."""


def check_sandbox_id(sandbox_id: str) -> str:
    if not SANDBOX_ID.fullmatch(sandbox_id):
        raise ToolInputError("sandbox_id must be 1-128 letters, digits, '_' or '-'")
    return sandbox_id


def check_path(path: str, name: str = "path") -> str:
    """A workspace path is relative to `/workspace`, or absolute inside it, and stays there."""
    parts = PurePosixPath(path).parts
    if not path or "\x00" in path:
        raise ToolInputError(f"{name} must be a non-empty path")
    inside = path == "/workspace" or path.startswith("/workspace/")
    if (path.startswith("/") and not inside) or ".." in parts:
        raise ToolInputError(
            f"{name} must be relative to /workspace (or absolute inside it), without '..'"
        )
    return path


def truncate(text: str, limit: int) -> str:
    """Keep the head and tail of long text around a visible marker."""
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n...[truncated {cut} chars]...\n{text[len(text) - half :]}"


def api_error(exc: ShipyardError) -> str:
    details = "".join(f"\n- {key}: {value}" for key, value in exc.details.items())
    return f"**API Error:** [{exc.code}] {exc.message}{details}"


def sandbox(info: api.Sandbox) -> str:
    lines = [
        f"Sandbox {info.id}",
        f"profile: {info.profile}",
        f"status: {info.status}",
        f"capabilities: {', '.join(info.capabilities)}",
        f"expires_at: {info.expires_at or 'never'}",
    ]
    return "\n".join(lines)


def sandbox_list(page: api.SandboxList) -> str:
    if not page.items:
        return "No sandboxes"
    lines = [
        f"- {info.id} [{info.status}] {info.profile}, expires {info.expires_at or 'never'}"
        for info in page.items
    ]
    if page.next_cursor:
        lines.append(f"more: pass cursor={page.next_cursor}")
    return "\n".join(lines)


def python_result(result: api.PythonExecResult) -> str:
    verdict = "succeeded" if result.success else "failed"
    head = f"Python {verdict} ({result.execution_id}, {result.execution_time_ms} ms)"
    return _sections(head, result.code, result.output, result.error)


def shell_result(result: api.ShellExecResult) -> str:
    head = f"Exit code {result.exit_code} ({result.execution_id}, {result.execution_time_ms} ms)"
    return _sections(head, result.command, result.output, result.error)


def _sections(head: str, code: str | None, output: str, error: str | None) -> str:
    parts = [head]
    if code:
        parts.append(f"code:\n{code}")
    parts.append(f"output:\n{output}" if output else "output: (none)")
    if error:
        parts.append(f"error:\n{error}")
    return "\n".join(parts)


def file_list(path: str, entries: list[api.FileInfo]) -> str:
    if not entries:
        return f"{path}: empty"
    lines = [f"{e.name}/" if e.is_dir else f"{e.name} ({e.size} bytes)" for e in entries]
    return "\n".join([f"{path}:", *lines])


def execution(entry: api.ExecutionEntry) -> str:
    fields = {
        "type": entry.exec_type,
        "success": entry.success,
        "time_ms": entry.execution_time_ms,
        "created_at": entry.created_at,
        "description": entry.description,
        "tags": entry.tags,
        "notes": entry.notes,
    }
    lines = [f"Execution {entry.id}"] + [f"{k}: {v}" for k, v in fields.items() if v is not None]
    return _sections("\n".join(lines), entry.code, entry.output or "", entry.error)


def history(page: api.ExecutionList) -> str:
    lines = [f"{len(page.entries)} of {page.total} executions (newest first)"]
    for entry in page.entries:
        verdict = "ok" if entry.success else "failed"
        first = entry.code.splitlines()[0] if entry.code else ""
        lines.append(f"- {entry.id} [{entry.exec_type}] {verdict}: {first[:80]}")
    return "\n".join(lines)


def profiles(listing: api.ProfileList) -> str:
    return "\n".join(
        f"- {p.id}: {', '.join(p.capabilities)}; idle timeout {p.idle_timeout} s"
        for p in listing.items
    )


def process(info: ship.ProcessInfo) -> str:
    state = info.state if info.exit_code is None else f"{info.state}, exit code {info.exit_code}"
    return f"Process {info.process_id} ({state}, pid {info.pid}): {info.command}"


def processes(items: list[ship.ProcessInfo]) -> str:
    return "\n".join(f"- {process(info)}" for info in items) or "No background processes"


def process_logs(info: ship.ProcessInfo, logs: ship.ProcessLogs) -> str:
    more = "all read" if logs.eof else f"next offset {logs.next_offset}"
    head = f"{process(info)}\n{logs.stream} from byte {logs.offset} ({more}):"
    return f"{head}\n{logs.data}" if logs.data else f"{head} (nothing new)"


def browser_result(result: api.BrowserExecResult) -> str:
    verdict = "succeeded" if result.success else "failed"
    head = (
        f"Browser command {verdict}, exit code {result.exit_code} "
        f"({result.execution_id}, {result.execution_time_ms} ms)"
    )
    return _with_trace(_sections(head, None, result.output, result.error), result.trace_ref)


def browser_batch(result: api.BrowserBatchResult) -> str:
    verdict = "succeeded" if result.success else "failed"
    parts = [
        f"Browser batch {verdict}: {result.completed_steps} of {result.total_steps} steps ran "
        f"({result.execution_id}, {result.execution_time_ms} ms)"
    ]
    for step in result.results:
        parts.append(
            f"step {step.step_index + 1}: {step.cmd} (exit code {step.exit_code}, "
            f"{step.duration_ms} ms)"
        )
        if step.stdout.strip():
            parts.append(step.stdout.rstrip("\n"))
        if step.stderr.strip():
            parts.append(f"error:\n{step.stderr.rstrip()}")
    return _with_trace("\n".join(parts), result.trace_ref)


def _with_trace(answer: str, trace_ref: str | None) -> str:
    return f"{answer}\ntrace_ref: {trace_ref}" if trace_ref else answer


def _fields(head: str, fields: dict[str, Any]) -> str:
    """`head`, then one `name: value` line per field that has a value."""
    lines = [head]
    for name, value in fields.items():
        if value is None or value == []:
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        lines.append(f"{name}: {shown}")
    return "\n".join(lines)


def skill_payload(stored: skills.SkillPayload) -> str:
    body = json.dumps(stored.payload, indent=2)
    return f"Payload {stored.payload_ref} (kind {stored.kind}):\n{body}"


def skill_candidate(candidate: skills.SkillCandidate) -> str:
    return _fields(
        f"Candidate {candidate.id} of {candidate.skill_key} [{candidate.status}]",
        {
            "skill_type": candidate.skill_type,
            "source_execution_ids": candidate.source_execution_ids,
            "payload_ref": candidate.payload_ref,
            "scenario_key": candidate.scenario_key,
            "summary": candidate.summary,
            "usage_notes": candidate.usage_notes,
            "preconditions": candidate.preconditions,
            "postconditions": candidate.postconditions,
            "latest_score": candidate.latest_score,
            "latest_pass": candidate.latest_pass,
            "promotion_release_id": candidate.promotion_release_id,
            "created_at": candidate.created_at,
        },
    )


def skill_candidates(page: skills.SkillCandidateList, offset: int) -> str:
    lines = [f"{len(page.items)} of {page.total} candidates (newest first)"]
    for c in page.items:
        score = "" if c.latest_score is None else f", score {c.latest_score:g}"
        lines.append(f"- {c.id} {c.skill_key} [{c.status}]{score}")
    return "\n".join(lines + _more(len(page.items), offset, page.total))


def skill_evaluation(evaluation: skills.SkillEvaluation) -> str:
    verdict = "passed" if evaluation.passed else "failed"
    return _fields(
        f"Evaluation {evaluation.id} of {evaluation.candidate_id}: {verdict}",
        {"score": evaluation.score, "benchmark_id": evaluation.benchmark_id},
    )


def skill_release(release: skills.SkillRelease) -> str:
    active = "active" if release.is_active else "inactive"
    return _fields(
        f"Release {release.id}: {release.skill_key} v{release.version} [{release.stage}, {active}]",
        {
            "candidate_id": release.candidate_id,
            "rollback_of": release.rollback_of,
            "change_summary": release.change_summary,
            "promoted_at": release.promoted_at,
        },
    )


def skill_releases(page: skills.SkillReleaseList, offset: int) -> str:
    lines = [f"{len(page.items)} of {page.total} releases (newest first)"]
    for r in page.items:
        active = ", active" if r.is_active else ""
        lines.append(f"- {r.id} {r.skill_key} v{r.version} [{r.stage}{active}] {r.candidate_id}")
    return "\n".join(lines + _more(len(page.items), offset, page.total))


def _more(shown: int, offset: int, total: int) -> list[str]:
    return [f"more: pass offset={offset + shown}"] if offset + shown < total else []


def skill_health(health: skills.SkillReleaseHealth) -> str:
    verdict = "healthy" if health.healthy else "unhealthy"
    advice = "roll back" if health.should_rollback else "keep"
    return _fields(
        f"Release {health.release_id} ({health.skill_key}, {health.stage}): {verdict}, {advice}",
        {
            "window": f"{health.window_start_at} to {health.window_end_at}"
            + ("" if health.window_complete else " (still open)"),
            "samples": health.samples,
            "success_rate": f"{health.success_rate:g} (baseline {health.baseline_success_rate:g})",
            "error_rate": f"{health.error_rate:g} (baseline {health.baseline_error_rate:g})",
            "p95_duration_ms": health.p95_duration,
            "rollback_reasons": health.rollback_reasons,
        },
    )
