"""Running the calls QwQ asks for: one round of tools, in the thread that reads the call.

The tools are the user's own Python functions, so they run where the user's code runs: in
the thread reading the stream (the kernel's main thread for a cell), where ■ interrupts a
slow one and a confirmation can ask the user. A batch or the async client, which have no
such reader, run them in a worker thread instead (`ToolLoop`).

Everything sent back is the model's business and the user's data: each result is bounded
(`tool_result_chars`) and known secrets are masked before it leaves the kernel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace

from ..core.credentials import redact
from ..core.errors import ConfigurationError
from ..core.events import ToolCall, ToolStatus
from ..core.printable import printable
from ..core.public import publish
from ..core.settings import QwQSettings
from ..core.tools import Tool, all_tools, has_functions, run_tool, unknown_tool_error

__all__ = ["NO_ONE_TO_ASK", "Around", "Confirm", "ToolRunner", "runs_tools"]

#: Asks the user whether a call may run: (tool name, its arguments as JSON text) -> yes or no.
Confirm = Callable[[str, str], bool]
#: Where a function's own output goes while it runs, given its name: the notebook keeps what
#: a tool prints or plots and shows it again after the answer (its live view is cleared).
Around = Callable[[str], AbstractContextManager[object]]

#: Why a call with `confirm_tools` is refused where nothing can ask the user.
NO_ONE_TO_ASK = (
    "confirm_tools asks before each tool call, and nothing here can ask: run the question in a "
    "%%qwq cell of its own (not --compare, --vote, --background, batch() or the Python API), "
    "or set confirm_tools = False"
)
#: The error line sent back for a call the user declined.
DECLINED = "the user declined to run this call"
#: ... for a call a ■ stopped, and for the calls of its round that never started.
STOPPED = "stopped with ■ before it finished"
NOT_STARTED = "not run: the user stopped the cell"


class ToolRunner:
    """Runs one round's calls against `tools`; `confirm` (if given) is asked before each."""

    def __init__(
        self,
        tools: list[Tool],
        *,
        result_chars: int = 4000,
        confirm: Confirm | None = None,
        secrets: tuple[str, ...] = (),
        around: Around | None = None,
    ) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.result_chars = result_chars
        self.confirm = confirm
        self.secrets = secrets
        self.around = around or (lambda name: nullcontext())

    @classmethod
    def for_settings(
        cls,
        settings: QwQSettings,
        *,
        confirm: Confirm | None = None,
        secrets: tuple[str, ...] = (),
        around: Around | None = None,
    ) -> ToolRunner | None:
        """The runner for a call with these settings; None when no tool of theirs can run.

        Tools given only as descriptions (and `max_tool_rounds = 0`) leave the calls to the
        user, as they come: the call ends with them.
        """
        if not runs_tools(settings):
            return None
        if settings.confirm_tools and confirm is None:
            raise ConfigurationError(NO_ONE_TO_ASK)
        tools = all_tools(settings.tools, settings.functions)
        ask = confirm if settings.confirm_tools else None
        chars = settings.tool_result_chars
        return cls(tools, result_chars=chars, confirm=ask, secrets=secrets, around=around)

    def run(self, calls: tuple[ToolCall, ...]) -> list[ToolCall]:
        """Every call of the round, finished; ■ (KeyboardInterrupt) passes through."""
        return list(self.each(calls))

    def each(self, calls: tuple[ToolCall, ...]) -> Iterator[ToolCall]:
        """The calls one by one as each finishes, so a view can show each result at once.

        On ■ the call running is yielded as `stopped` and the rest as not run; then the
        KeyboardInterrupt is raised again, once the reader has all of them.
        """
        for index, call in enumerate(calls):
            started = time.perf_counter()
            try:
                finished = self.one(call)
            except KeyboardInterrupt:
                seconds = time.perf_counter() - started
                yield replace(call, status="stopped", error=STOPPED, seconds=seconds)
                for rest in calls[index + 1 :]:
                    yield _settled(rest, "not run", NOT_STARTED)
                raise
            yield finished

    def one(self, call: ToolCall) -> ToolCall:
        """Run one call: unknown names, refusals and bad arguments are errors for the model.

        Everything that leaves (the result, an error line, the question to the user) has the
        known secrets masked first, before any of it is cut to length.
        """
        tool = self.tools.get(call.name)
        if tool is None:
            error = unknown_tool_error(self._mask(call.name), self.tools.values())
            return _settled(call, "refused", error)
        if tool.function is not None:
            try:
                tool.check_arguments(call.arguments)
            except ValueError as err:
                return _settled(call, "refused", printable(self._mask(str(err))))
            asked = self._mask(_json(call.arguments))
            if self.confirm is not None and not self.confirm(call.name, asked):
                return _settled(call, "refused", DECLINED)
        with self.around(call.name):
            outcome = run_tool(
                tool, call.arguments, result_chars=self.result_chars, mask=self._mask
            )
        if outcome.error is not None:
            status: ToolStatus = "failed" if tool.function is not None else "refused"
            return replace(call, status=status, error=outcome.error, seconds=outcome.seconds)
        return replace(call, status="ran", result=outcome.result, seconds=outcome.seconds)

    def _mask(self, text: str) -> str:
        return redact(text, self.secrets)


def runs_tools(settings: QwQSettings) -> bool:
    """Some of the call's tools are functions, which run when QwQ calls them."""
    if settings.max_tool_rounds == 0:
        return False
    return has_functions(settings.tools) or has_functions(settings.functions)


def _settled(call: ToolCall, status: ToolStatus, error: str) -> ToolCall:
    return replace(call, status=status, error=error, seconds=0.0)


def _json(arguments: object) -> str:
    """The arguments as the user is asked about them: JSON text (a string stays as it came)."""
    if isinstance(arguments, str):
        return arguments
    try:
        return json.dumps(arguments, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(arguments)


publish(globals())
