"""The request builder for a sandbox's browser, shared by `AsyncBrowser` and `Browser`."""

from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from shipyard._endpoints import EXEC_MARGIN, Tags, _finish, _sandbox, _segment, _tags
from shipyard._requests import Call, checked, model
from shipyard_protocol import api

BATCH_MARGIN = 15.0  # a batch's steps each pay a little on top of the batch timeout
R = TypeVar("R", bound=BaseModel)


def _run(
    url: str, body: BaseModel, answer: type[R], timeout: int, margin: float, what: str
) -> Call[R]:
    return Call(
        "POST",
        url,
        model(answer),
        json=body.model_dump(exclude_none=True),
        read_timeout=timeout + margin,
        waits_for=_finish(what, timeout),
    )


def run_browser(
    sandbox_id: str, cmd: str, *, timeout: int, tags: Tags | None, **fields: Any
) -> Call[api.BrowserExecResult]:
    body = checked(api.BrowserExec, cmd=cmd, timeout=timeout, tags=_tags(tags), **fields)
    url = _sandbox(sandbox_id, "/browser/exec")
    return _run(url, body, api.BrowserExecResult, timeout, EXEC_MARGIN, "the browser command")


def run_browser_batch(
    sandbox_id: str, commands: list[str], *, timeout: int, tags: Tags | None, **fields: Any
) -> Call[api.BrowserBatchResult]:
    body = checked(
        api.BrowserBatchExec, commands=commands, timeout=timeout, tags=_tags(tags), **fields
    )
    url = _sandbox(sandbox_id, "/browser/exec_batch")
    return _run(url, body, api.BrowserBatchResult, timeout, BATCH_MARGIN, "the browser batch")


def run_skill(
    sandbox_id: str, skill_key: str, *, timeout: int, tags: Tags | None, **fields: Any
) -> Call[api.SkillRunResult]:
    body = checked(api.SkillRun, timeout=timeout, tags=_tags(tags), **fields)
    url = _sandbox(sandbox_id, f"/browser/skills/{_segment(skill_key)}/run")
    what = f"skill {skill_key}'s release"
    return _run(url, body, api.SkillRunResult, timeout, BATCH_MARGIN, what)


def get_trace(sandbox_id: str, trace_ref: str) -> Call[api.BrowserTrace]:
    # `blob:` stays readable, as in the skills payload route.
    url = _sandbox(sandbox_id, f"/browser/traces/{quote(trace_ref, safe=':')}")
    return Call("GET", url, model(api.BrowserTrace))
