"""Browser commands: `agent-browser` (no shell) with the session's name and persistent profile,
each in its own process group; one that runs past its time takes the browser down with it."""

import asyncio
import logging
import os
import re
import shlex
import shutil
import signal
import time
from contextlib import suppress
from importlib import resources
from pathlib import Path

from ship.errors import ShipError
from ship.events import EventLog, LogBounds
from ship.shell import Shell
from shipyard_protocol.errors import ErrorCode
from shipyard_protocol.ship import BrowserBatch, BrowserBatchRun, BrowserStep, ShellOutcome

logger = logging.getLogger(__name__)

CLI = "agent-browser"
# The persistent profile (cookies, logins, storage) lives on the cargo: it survives stop/start.
PROFILE = Path(".browser/profile")
SKILL = "browser-automation"
# agent-browser's rule for session names.
_SESSION_NAME = re.compile(r"[\w-]+")
_DEFAULT_SESSION = "shipyard"
# What a command's event log may hold: nobody follows it, only the capped buffers count.
_BOUNDS = LogBounds(max_bytes=64 * 1024, max_events=256, stall=1.0)
# How long Ship's shutdown waits for `close`, which lets Chromium write its profile.
_CLOSE_GRACE = 5.0
# What a warm sandbox's browser opens before Ship is ready; the user's first command finds
# Chromium running (a launch takes seconds), as a blank page.
PRESTART = "open about:blank"
_PRESTART_LIMIT = 120.0
# agent-browser's words when its daemon never came up (the command did not run: it runs once
# more on a new browser) and when the daemon stopped answering (it may have run: not run
# again, but the next command gets a new browser instead of the silent one).
_NOT_STARTED = "Daemon process exited during startup"
_NO_ANSWER = "reached the daemon but no response came back"
# Less time than this left after waiting for the browser: the command is not started.
_LEAST_TIME = 1.0
# agent-browser's options that pick another browser, profile or session than the sandbox's
# one: a browser started with them escapes the timeout's kill and the close before a stop.
_SHIPS_OPTIONS = frozenset(
    {
        "--session",
        "--profile",
        "--executable-path",
        "--namespace",
        "--session-name",
        "--cdp",
        "--auto-connect",
        "--provider",
    }
)
_KILL_ROUNDS = 20
# How long a kill waits for the browser's processes to be gone.
_DEATH_WAIT = 10.0


class InvalidBrowserCommandError(ShipError):
    code = ErrorCode.VALIDATION_ERROR


class BrowserUnavailableError(ShipError):
    code = ErrorCode.CAPABILITY_NOT_SUPPORTED


class Browser:
    """Runs agent-browser commands for the session; Chromium is agent-browser's daemon's."""

    def __init__(self, shell: Shell, workspace: Path, sandbox_id: str | None) -> None:
        self._shell = shell
        self._workspace = workspace
        named = sandbox_id and _SESSION_NAME.fullmatch(sandbox_id)
        self.session: str = named.group() if named else _DEFAULT_SESSION
        self.profile = workspace / PROFILE
        self._running = 0
        self._turn = asyncio.Lock()
        self._prepared = False

    @property
    def available(self) -> bool:
        """agent-browser and the Chromium it is told to drive are both there."""
        chromium = os.environ.get("AGENT_BROWSER_EXECUTABLE_PATH") or "chromium"
        return shutil.which(CLI) is not None and shutil.which(chromium) is not None

    @property
    def running(self) -> int:
        return self._running

    async def run(self, cmd: str, time_limit: float, step_index: int = 0) -> BrowserStep:
        """One command; exit_code -1 with `timed_out` when it ran past `time_limit`.

        Commands take turns on the session's one browser (a second waits, and its waiting
        counts against its time): a timed-out command's kill never hits another's command.
        """
        argv = self._argv(cmd)
        self._prepare()
        started = time.monotonic()
        self._running += 1
        try:
            async with asyncio.timeout(time_limit):
                await self._turn.acquire()
        except TimeoutError:
            self._running -= 1
            return _not_run(cmd, time_limit, step_index, started)
        try:
            left = time_limit - (time.monotonic() - started)
            if left < _LEAST_TIME:  # it would only time out, and take the browser down
                return _not_run(cmd, time_limit, step_index, started)
            outcome = await self._attempt(argv, left, time_limit)
        finally:
            self._turn.release()
            self._running -= 1
        return _step(cmd, outcome, step_index, started)

    async def _attempt(self, argv: list[str], time_limit: float, asked: float) -> ShellOutcome:
        """Run once; a daemon that died starting is replaced and the command run again.
        `asked`: the caller's timeout, `time_limit` what is left of it."""
        started = time.monotonic()
        outcome = await self._once(argv, time_limit)
        left = time_limit - (time.monotonic() - started)
        failed = outcome.exit_code != 0 and not outcome.timed_out
        if failed and _says(outcome, _NOT_STARTED) and left > 0:
            await asyncio.to_thread(self._kill_browser)
            outcome = await self._once(argv, left)
        elif failed and _says(outcome, _NO_ANSWER):
            await asyncio.to_thread(self._kill_browser)
        if outcome.timed_out:
            await asyncio.to_thread(self._kill_browser)
            outcome.stderr += (
                f"{CLI} timed out after {asked:g} s; it was stopped and its browser closed "
                "(the next command starts a new one on the same profile)\n"
            )
        return outcome

    async def _once(self, argv: list[str], time_limit: float) -> ShellOutcome:
        log = EventLog("browser", _BOUNDS)
        return await self._shell.run_argv(argv, self._workspace, {}, time_limit, log)

    async def prestart(self) -> None:
        """Launch the browser now (a warm sandbox); failing, it launches on first use."""
        if not self.available:
            logger.warning("the browser was not prestarted: %s or Chromium is missing", CLI)
            return
        step = await self.run(PRESTART, _PRESTART_LIMIT)
        if step.exit_code != 0:
            logger.warning("the browser did not prestart: %s", (step.stderr or step.stdout)[-500:])
            await asyncio.to_thread(self._kill_browser)  # the first command starts it afresh

    async def run_batch(self, batch: BrowserBatchRun) -> BrowserBatch:
        """Commands in order, each given what is left of the batch's time."""
        for cmd in batch.commands:
            self._argv(cmd)  # a malformed command refuses the whole batch before any runs
        started = time.monotonic()
        results: list[BrowserStep] = []
        for index, cmd in enumerate(batch.commands):
            left = batch.timeout - (time.monotonic() - started)
            if left <= 0:
                break
            step = await self.run(cmd, left, index)
            results.append(step)
            if step.exit_code != 0 and batch.stop_on_error:
                break
        return BrowserBatch(
            results=results,
            total_steps=len(batch.commands),
            completed_steps=len(results),
            success=len(results) == len(batch.commands)
            and all(step.exit_code == 0 for step in results),
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    async def shutdown(self) -> None:
        """Kill running commands, then close the browser (so Chromium writes its profile)."""
        self._shell.shutdown()
        await self.close()

    async def close(self) -> bool:
        """Close the browser, if one runs, as agent-browser's `close` does: Chromium writes
        its profile (cookies it keeps in memory for up to 30 s) before it ends. Whatever is
        left after the grace is killed. True when there was a browser to close."""
        if not self._prepared:  # never used
            return False
        if not await asyncio.to_thread(_browser_processes, self.session, self.profile):
            return False
        # A command under way gets a moment to end; then the browser closes regardless.
        with suppress(TimeoutError):
            async with asyncio.timeout(_CLOSE_GRACE):
                await self._turn.acquire()
                self._turn.release()
        log = EventLog("browser-close", _BOUNDS)
        with suppress(OSError, ShipError):
            await self._shell.run_argv(self._argv("close"), self._workspace, {}, _CLOSE_GRACE, log)
        await asyncio.to_thread(self._kill_browser)
        return True

    def _argv(self, cmd: str) -> list[str]:
        try:
            words = shlex.split(cmd)
        except ValueError as exc:
            message = f"the browser command cannot be split into words: {exc}"
            raise InvalidBrowserCommandError(message, {"cmd": cmd}) from exc
        if words[:1] == [CLI]:
            words = words[1:]
        if not words:
            raise InvalidBrowserCommandError("the browser command is empty", {"cmd": cmd})
        if taken := [word for word in words if word.split("=", 1)[0] in _SHIPS_OPTIONS]:
            message = (
                f"{', '.join(sorted(set(taken)))}: set by Ship (the sandbox's one browser, its "
                "profile on the cargo and Debian's Chromium); leave it out"
            )
            raise InvalidBrowserCommandError(message, {"cmd": cmd})
        return [CLI, "--session", self.session, "--profile", str(self.profile), *words]

    def _prepare(self) -> None:
        """On first use: the profile's directory, and the skill document unless one is there."""
        if not self.available:
            details = {"capability": "browser"}
            raise BrowserUnavailableError(f"{CLI} or Chromium is not installed here", details)
        if self._prepared:
            return
        self.profile.mkdir(parents=True, exist_ok=True)
        skill = self._workspace / "skills" / SKILL / "SKILL.md"
        if not skill.exists():
            skill.parent.mkdir(parents=True, exist_ok=True)
            source = resources.files("ship") / "skills" / SKILL / "SKILL.md"
            skill.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        self._prepared = True

    def _kill_browser(self) -> None:
        """Kill the session's daemon and everything it started (Chromium and its helpers), so
        the next command starts a new browser; a few rounds catch what forked meanwhile."""
        killed: set[int] = set()
        for _ in range(_KILL_ROUNDS):
            victims = _browser_processes(self.session, self.profile)
            if not victims:
                break
            for pid in victims:
                with suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            killed |= victims
        # A dying daemon still accepts on its socket: the next command would talk to it and get
        # no answer. Once it is dead its files go, so the next command starts a new daemon.
        _wait_dead(killed, _DEATH_WAIT)
        if sockets := os.environ.get("AGENT_BROWSER_SOCKET_DIR"):
            for suffix in (".sock", ".pid"):
                with suppress(OSError):
                    (Path(sockets) / f"{self.session}{suffix}").unlink(missing_ok=True)


def _wait_dead(pids: set[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    """Whether any thread of `pid` still runs (a zombie leader's threads may not have ended,
    and they hold its files)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    zombie = fields.get("State", "").split()[:1] in (["Z"], ["X"])
    return not zombie or int(fields.get("Threads", "0")) > 1


def _browser_processes(session: str, profile: Path) -> set[int]:
    """The session's daemon (agent-browser marks it in its environment and gives it a session
    of its own), the processes of its session (Chromium's, whose helpers overwrite their
    environment with their titles), those that carry the mark (Chromium's crash handlers
    leave the session) and any process using the profile; never Ship."""
    mark = f"AGENT_BROWSER_SESSION={session}".encode()
    profile_arg = f"--user-data-dir={profile}".encode()
    found: set[int] = set()
    daemons: set[int] = set()
    sessions: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        with suppress(OSError, IndexError, ValueError):  # gone meanwhile, or not ours
            environ = (entry / "environ").read_bytes().split(b"\0")
            # After the command's name: state, ppid, process group, session.
            sessions[pid] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3])
            if mark in environ:
                found.add(pid)
                if b"AGENT_BROWSER_DAEMON=1" in environ:
                    daemons.add(pid)
            if profile_arg in (entry / "cmdline").read_bytes().split(b"\0"):
                found.add(pid)
    return found | {pid for pid, sid in sessions.items() if sid in daemons}


def _step(cmd: str, outcome: ShellOutcome, step_index: int, started: float) -> BrowserStep:
    return BrowserStep(
        cmd=cmd,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        exit_code=outcome.exit_code,
        step_index=step_index,
        duration_ms=round((time.monotonic() - started) * 1000),
        timed_out=outcome.timed_out,
    )


def _not_run(cmd: str, time_limit: float, step_index: int, started: float) -> BrowserStep:
    waited = f"{CLI} waited {time_limit:g} s for the browser's previous command; not run\n"
    outcome = ShellOutcome(exit_code=-1, stdout="", stderr=waited, timed_out=True)
    return _step(cmd, outcome, step_index, started)


def _says(outcome: ShellOutcome, words: str) -> bool:
    """agent-browser's own error line (`✗ ...`), not text a page may have printed."""
    return any(line.startswith("✗") and words in line for line in outcome.stderr.splitlines())
