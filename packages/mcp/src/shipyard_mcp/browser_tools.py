"""Tools for the sandbox's headless browser: one agent-browser command, or a batch."""

from typing import Annotated

from pydantic import Field

from shipyard_mcp import text
from shipyard_mcp.tools import SandboxId, Tools, answered

Tags = Annotated[str | None, Field(description="Comma-separated tags to record.")]
Learn = Annotated[bool, Field(description="Offer the run to skill learning.")]
IncludeTrace = Annotated[bool, Field(description="Record the steps and answer a trace ref.")]


class BrowserTools(Tools):
    """The browser of a sandbox whose profile has the `browser` capability."""

    @answered
    async def execute_browser(
        self,
        sandbox_id: SandboxId,
        cmd: Annotated[
            str,
            Field(
                description="An agent-browser command without the `agent-browser` word, "
                "e.g. `open https://example.com`, `snapshot -i`, `click @e2`."
            ),
        ],
        timeout: Annotated[int, Field(ge=1, le=300, description="Seconds before it stops.")] = 30,
        description: str | None = None,
        tags: Tags = None,
        learn: Learn = False,
        include_trace: IncludeTrace = False,
    ) -> str:
        """Run one browser command; the page stays open for the next call. `snapshot -i`
        lists the page's interactive elements with refs (@e1, …) to click or fill."""
        sandbox = await self._sandbox(sandbox_id)
        result = await sandbox.browser.exec(
            cmd,
            timeout=timeout,
            description=description,
            tags=tags,
            learn=learn,
            include_trace=include_trace,
        )
        return self._bounded(text.browser_result(result))

    @answered
    async def execute_browser_batch(
        self,
        sandbox_id: SandboxId,
        commands: Annotated[
            list[str], Field(min_length=1, description="Browser commands, run in order.")
        ],
        timeout: Annotated[
            int, Field(ge=1, le=600, description="Seconds for all of the commands.")
        ] = 60,
        stop_on_error: Annotated[
            bool, Field(description="Stop at the first command that fails.")
        ] = True,
        description: str | None = None,
        tags: Tags = None,
        learn: Learn = False,
        include_trace: IncludeTrace = False,
    ) -> str:
        """Run browser commands in order as one execution; answers each step's output."""
        sandbox = await self._sandbox(sandbox_id)
        result = await sandbox.browser.exec_batch(
            commands,
            timeout=timeout,
            stop_on_error=stop_on_error,
            description=description,
            tags=tags,
            learn=learn,
            include_trace=include_trace,
        )
        return self._bounded(text.browser_batch(result))
