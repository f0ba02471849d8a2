"""Asking before QwQ runs a tool (`QwQSettings.confirm_tools`): Run / Skip buttons, or `[y/N]`.

The name and the arguments are written by the model, so they are shown only through the safe
paths: HTML from `render/html.py` (escaped, in a `<pre>`, sanitised once more), terminal text
through `printable()` on one line. At most `ARGUMENTS_SHOWN` characters of the arguments are
shown, then "…".

**Clicks while the cell runs.** The question is asked from the thread running the cell. A
button click reaches the kernel as a `comm_msg` on the shell channel, and the kernel reads the
shell channel on that same thread's event loop, which is busy running the cell. So while it
waits, `confirm_in_notebook` reads that loop's shell messages itself
(`_ShellInbox`): comm messages (clicks, slider moves, any widget's) are handled at once, with
the kernel's own comm handler and the message as parent, as the kernel would; every other
message (the next cell's `execute_request`, completions, …) is held and handed back, in
order, to the callback the kernel's stream would have called, when the wait ends, however it
ends (answer, timeout, ■). Those messages are only peeked at (`deserialize(content=False)`,
which does not record the signature), so the kernel reads them later as if they had just
arrived. The loop's socket is drained before handing back, so its edge-triggered notification
cannot be lost. Where the inbox is:

- ipykernel 7: one inproc socket per shell (the main one and each subshell), fed by the
  shell-channel thread; `SubshellManager` says which belongs to the current thread.
- ipykernel 6.29: the shell socket's stream itself, on the main thread.
- Any other thread (a background cell's worker) is not the kernel's: its loop is free and
  dispatches the click itself, so we only wait for it.
- A kernel whose inbox cannot be found: the question is asked on stdin instead (`input()`
  becomes JupyterLab's input box), or answered No where a frontend has no stdin.

Why not `jupyter-ui-poll` (1.1.0, the newest): it polls with `kernel.do_one_iteration()`, which
ipykernel 7.4 no longer has, and swallows the AttributeError, so clicks are never seen (checked
in a real kernel); for ipykernel 7 it also swaps the kernel's `execute_request` handler and
replaces its main asyncio lock while it polls. Why not nest-asyncio (re-entering the kernel's
loop): see ARCHITECTURE.md. What we rely on of ipykernel is small and tested in a real kernel
and in JupyterLab: where the inbox stream is, its `_recv_callback`, `session`, `get_parent` /
`set_parent` and `shell_handlers["comm_msg"]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..core.printable import printable
from ..render.html import block, document, escape, preformatted

__all__ = [
    "ARGUMENTS_SHOWN",
    "confirm_in_notebook",
    "confirm_in_terminal",
    "question_html",
    "record_line",
]

#: Characters of the arguments shown; a longer text ends with "…".
ARGUMENTS_SHOWN = 2_000
NAME_SHOWN = 200
_PRETTY_LIMIT = 100_000  # arguments longer than this are shown as written, not re-indented
_POLL_SECONDS = 0.05
_COMM_MESSAGES = frozenset({"comm_open", "comm_msg", "comm_close"})
_RUN_ALL: deque[str] = deque(maxlen=64)  # cells (request ids) whose calls all run unasked
_TASKS: set[asyncio.Future[Any]] = set()


# --- what is shown -------------------------------------------------------------------------


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _arguments_text(arguments: str, indent: int | None) -> str:
    """The JSON re-indented when it parses (one line with `indent=None`), bounded."""
    if len(arguments) <= _PRETTY_LIMIT:
        # Not JSON (or absurdly nested): shown as written.
        with contextlib.suppress(ValueError, RecursionError):
            arguments = json.dumps(json.loads(arguments), ensure_ascii=False, indent=indent)
    return _bounded(arguments, ARGUMENTS_SHOWN)


def _one_line(text: str) -> str:
    return printable(text).replace("\n", "␊").replace("\t", "␉")


def question_html(name: str, arguments: str) -> str:
    """Safe HTML: "QwQ wants to run `name` with", then the arguments in a scrolling `<pre>`."""
    shown = preformatted(_arguments_text(arguments, indent=1))
    return document(
        [
            block(
                f"<p>QwQ wants to run <b><code>{escape(_bounded(name, NAME_SHOWN))}</code></b> "
                f"with</p>{block(shown, 'qwq-pre', 'max-height: 14em; overflow: auto')}",
                "qwq-tool",
                "border-left: 3px solid; padding-left: 0.6em; margin: 0.2em 0",
            )
        ]
    )


def record_line(name: str, ran: bool, why: str = "") -> str:
    """What stays in the notebook once decided: "✔ ran count_rows", "✖ skipped count_rows: …"."""
    line = f"{'✔ ran' if ran else '✖ skipped'} {_one_line(_bounded(name, NAME_SHOWN))}"
    return f"{line}{why}"


def _record_bundle(line: str) -> dict[str, str]:
    html = document([block(f"<p>{escape(line)}</p>", "qwq-tool", "opacity: 0.8")])
    return {"text/html": html, "text/plain": line}


# --- the terminal --------------------------------------------------------------------------


def confirm_in_terminal(name: str, arguments: str) -> bool:
    """`Run name({…})? [y/N] `: True only for y or yes; end of input is No; ^C propagates."""
    shown = _one_line(_bounded(name, NAME_SHOWN))
    prompt = f"Run {shown}({_one_line(_arguments_text(arguments, indent=None))})? [y/N] "
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


# --- the notebook --------------------------------------------------------------------------


def confirm_in_notebook(name: str, arguments: str, *, timeout: float | None = None) -> bool:
    """Show the call with Run, Run all and Skip; True if the user runs it.

    Run all also runs the rest of this cell's calls without asking. With no answer within
    `timeout` seconds (None: wait for one), the call is skipped. ■ raises KeyboardInterrupt
    here, so the caller stops. Either way the buttons are replaced by a one-line record.
    Outside a kernel there is nothing to click: the question is asked in the terminal.
    """
    kernel = _kernel()
    if kernel is None:
        return confirm_in_terminal(name, arguments)
    from IPython.display import display

    cell = _request_id(kernel)
    if cell is not None and cell in _RUN_ALL:
        display(_record_bundle(record_line(name, True, " (Run all)")), raw=True)
        return True
    inbox = _ShellInbox.of_this_thread(kernel)
    if inbox is None:
        try:
            return confirm_in_terminal(name, arguments)  # stdin: JupyterLab's input box
        except NotImplementedError:  # StdinNotImplementedError: this frontend has no stdin
            return False

    import ipywidgets

    answer = _Answer()
    buttons = [
        _button("Run", "play", "primary", "Run this call", lambda: answer.give("run")),
        _button(
            "Run all",
            "forward",
            "",
            "Run this call and the rest of this cell's tool calls without asking",
            lambda: answer.give("all"),
        ),
        _button(
            "Skip",
            "ban",
            "",
            "Do not run this call",
            lambda: answer.give("skip"),
        ),
    ]
    question = ipywidgets.HTML(value=question_html(name, arguments))
    row = ipywidgets.HBox(buttons)
    box = ipywidgets.VBox([question, row])
    handle, why, choice = None, ": interrupted", None
    try:
        handle = display(box, display_id=True)
        if isinstance(inbox, _ShellInbox):
            given = inbox.wait(answer.given, timeout)
        else:
            given = answer.wait(timeout)
        why = "" if given else f": no answer within {timeout:g} s"
        choice = answer.choice if given else None
    finally:
        ran = choice in ("run", "all")
        if choice == "all" and cell is not None:
            _RUN_ALL.append(cell)
        if handle is not None:
            why = " (Run all)" if choice == "all" else why
            handle.update(_record_bundle(record_line(name, ran, why)), raw=True)
        for widget in (*buttons, question, row, box):
            for part in (getattr(widget, "style", None), widget.layout, widget):
                if part is not None:
                    part.close()  # its style and layout are widgets too
    return ran


class _Answer:
    """The first button clicked; later clicks change nothing."""

    def __init__(self) -> None:
        self.choice: str | None = None
        self._event = threading.Event()

    def give(self, choice: str) -> None:
        if self.choice is None:
            self.choice = choice
            self._event.set()

    def given(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None) -> bool:
        """For a thread that is not the kernel's: its loop dispatches the click by itself."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._event.wait(_POLL_SECONDS * 2):
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True


def _button(
    description: str, icon: str, style: str, tooltip: str, on_click: Callable[[], None]
) -> Any:
    import ipywidgets

    button = ipywidgets.Button(
        description=description, icon=icon, button_style=style, tooltip=tooltip
    )
    button.on_click(lambda _button: on_click())
    return button


def _kernel() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return getattr(get_ipython(), "kernel", None)


def _request_id(kernel: Any) -> str | None:
    """The id of the request (the cell's execution) this thread works for."""
    try:
        msg_id = kernel.get_parent()["header"]["msg_id"]
    except (AttributeError, KeyError, TypeError):
        return None
    return msg_id if isinstance(msg_id, str) else None


class _ShellInbox:
    """The shell messages this thread's kernel loop would read, read by us while it cannot."""

    def __init__(self, kernel: Any, stream: Any) -> None:
        self._kernel = kernel
        self._stream = stream
        self._copy = bool(getattr(stream, "_recv_copy", False))
        self._held: list[list[Any]] = []

    @classmethod
    def of_this_thread(cls, kernel: Any) -> _ShellInbox | bool | None:
        """The inbox; False on a thread the kernel does not run (wait only); None if unknown."""
        try:
            channel = getattr(kernel, "shell_channel_thread", None)
            if channel is not None:  # ipykernel 7: an inproc socket per (sub)shell
                manager = channel.manager
                try:
                    subshell = manager.subshell_id_from_thread_id(threading.get_ident())
                except RuntimeError:
                    return False  # neither the main shell nor a subshell
                stream = manager.get_shell_channel_to_subshell_pair(subshell).to_stream
            elif threading.current_thread() is threading.main_thread():
                stream = kernel.shell_stream  # ipykernel 6: the shell socket's own stream
            else:
                return False
            if stream is None or stream.socket is None or stream._recv_callback is None:
                return None
        except AttributeError:
            return None
        return cls(kernel, stream)

    def wait(self, given: Callable[[], bool], timeout: float | None) -> bool:
        """Handle comm messages until `given()`; False at the timeout. Hands back the rest."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not given():
                left = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pump(min(left, _POLL_SECONDS), given)
            return True
        finally:
            self._hand_back()

    def _pump(self, seconds: float, given: Callable[[], bool]) -> None:
        import zmq

        socket = self._stream.socket
        if not socket.poll(max(1, int(seconds * 1000)), zmq.POLLIN):
            return
        while not given():
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK, copy=self._copy)
            except zmq.Again:
                return
            if not self._dispatch_comm(frames):
                self._held.append(frames)

    def _dispatch_comm(self, frames: list[Any]) -> bool:
        """Handle `frames` if they are a comm message, as the kernel would; else False."""
        session = self._kernel.session
        try:
            idents, parts = session.feed_identities(list(frames), copy=self._copy)
            # A peek: without its content, deserialize does not record the signature, so
            # the kernel can still read a message we hand back.
            msg_type = session.deserialize(parts, content=False, copy=self._copy)["header"][
                "msg_type"
            ]
            if msg_type not in _COMM_MESSAGES:
                return False
            message = session.deserialize(parts, content=True, copy=self._copy)
        except Exception:  # not a message we can read: the kernel's to judge
            return False
        handler = self._kernel.shell_handlers.get(msg_type)
        if handler is None:
            return False
        parent = self._kernel.get_parent("shell")
        ident = self._kernel._parent_ident["shell"]
        _flush()
        self._kernel.set_parent(idents, message, channel="shell")
        try:
            handler(self._stream, idents, message)
        except Exception:
            self._kernel.log.error("Exception in %s handler", msg_type, exc_info=True)
        finally:
            _flush()  # what a handler printed belongs to its message
            self._kernel.set_parent(ident, parent, channel="shell")
        return True

    def _hand_back(self) -> None:
        """Drain the socket, then pass every held message on as the stream would have."""
        import zmq

        socket = self._stream.socket
        while socket is not None:
            try:
                self._held.append(socket.recv_multipart(zmq.NOBLOCK, copy=self._copy))
            except zmq.Again:
                break
        callback = self._stream._recv_callback
        held, self._held = self._held, []
        for frames in held:  # ipykernel 7: a task each, queued on the shell's lock in order
            result = callback(frames)  # ipykernel 6: onto the kernel's message queue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                _TASKS.add(task)  # a task only weakly referenced by its loop can vanish
                task.add_done_callback(_TASKS.discard)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
