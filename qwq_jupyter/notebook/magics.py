"""`%%qwq` and `%qwq`: parse what the user typed, then delegate to the session.

Every model parameter of `QwQSettings` becomes a flag (so `%%qwq?` lists them all with their
ranges); a flag changes that setting for one cell only.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Enum, Int

from ..core.settings import BACKENDS, NUMERIC_PARAMETERS, SERVERS, QwQSettings, parameter_range

if TYPE_CHECKING:
    from ..core.events import Response
    from ..render.render import DisplayedResponse
    from ..session.policy import Policy
    from ..session.session import Session
    from .cell import CellRequest

__all__ = ["QwQMagics", "load", "unload"]


def _parameter_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """Declare one flag per numeric model parameter, help text and range from the trait."""
    traits = QwQSettings.class_traits()
    for name in reversed(NUMERIC_PARAMETERS):
        trait = traits[name]
        kind = int if isinstance(trait, Int) else float
        low, high = parameter_range(name)
        func = argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=kind,
            metavar=kind.__name__.upper(),
            help=f"{trait.help} ({low:g} to {high:g})",
        )(func)
    return func


def _steering_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """One flag per steering setting, help text and range (or choices) from the trait."""
    traits = QwQSettings.class_traits()
    from .cell import RANGED_FLAGS

    for name in reversed(RANGED_FLAGS):
        trait = traits[name]
        flag = f"--{name.replace('_', '-')}"
        if isinstance(trait, Enum):
            choices = tuple(trait.values or ())
            func = argument(flag, dest=name, choices=choices, help=trait.help)(func)
            continue
        kind = int if isinstance(trait, Int) else float
        low, high = parameter_range(name)
        func = argument(
            flag,
            dest=name,
            type=kind,
            metavar="N" if kind is int else "DOLLARS",
            help=f"{trait.help} ({low:g} to {high:g})",
        )(func)
    return func


def _listing_commands(func: Callable[..., Any]) -> Callable[..., Any]:
    """Fill the `%qwq` command list into the help from the command table, so the two agree."""
    from .command_table import command_list

    keep_whole = command_list().replace(" ", "\u00a0").replace("\u00a0|\u00a0", " | ")
    listing = textwrap.fill(keep_whole, width=88, subsequent_indent=" " * 13)
    func.__doc__ = (func.__doc__ or "").replace("{commands}", listing.replace("\u00a0", " "))
    return func


@magics_class
class QwQMagics(Magics):
    """The `%%qwq` cell magic and the `%qwq` commands."""

    shell: InteractiveShell  # always set: the magics are registered with a shell

    def __init__(self, shell: Any, settings: QwQSettings) -> None:
        super().__init__(shell)
        self.settings = settings
        self._session: Session | None = None
        self.policy: Policy | None = None  # the class's, if the notebook carries one

    @property
    def session(self) -> Session:
        """Created on first use, so `%load_ext` stays cheap (no httpx, no dataclasses)."""
        if self._session is None:
            from ..session.active import activate
            from ..session.session import Session

            self._session = Session(self.settings)
            activate(self._session)
            if self.policy is not None:
                self._session.follow(self.policy)
        return self._session

    def apply_policy(self, notebook: str | None, *, quiet_if_none: bool = False) -> None:
        """The class's policy from `notebook` (default: this kernel's notebook), in one line.

        Outside Jupyter Server the notebook is not known: `%qwq policy load NOTEBOOK` then.
        """
        import os

        if notebook is None and quiet_if_none and not os.environ.get("JPY_SESSION_NAME"):
            return  # no notebook to read: `%load_ext` stays as cheap as it was
        from ..core.errors import ConfigurationError
        from ..session.policy import find_policy
        from ..session.saved import notebook_path

        try:
            policy = find_policy(notebook_path(notebook))
        except ConfigurationError as err:
            if quiet_if_none:
                if "does not know its notebook" not in str(err):
                    print(f"note: the class policy is not applied: {err}")
                return
            raise UsageError(str(err)) from None
        if policy is None:
            if not quiet_if_none:
                print("this notebook has no class policy")
            return
        policy.apply(self.settings)
        self.policy = policy
        if self._session is not None:
            self._session.follow(policy)
        print(policy.summary())

    @magic_arguments()
    @argument("--chat", metavar="NAME", help="Use the named conversation (default: 'default')")
    @argument("--new", action="store_true", help="Start the conversation afresh")
    @argument("--no-history", action="store_true", help="A one-off question: no history")
    @argument("--append", action="store_true", help="Keep this cell's earlier turn on re-run")
    @argument("--system", metavar="TEXT", help="System prompt for this conversation")
    @argument("--hide-reasoning", action="store_true", help="Do not show the reasoning")
    @argument("--show-reasoning", action="store_true", help="Show the reasoning")
    @argument("--raw", action="store_true", help="Send QwQ's chat-template text, raw")
    @argument("--no-stream", action="store_true", help="Wait for the whole reply")
    @argument("--json", metavar="VAR", help="Variable holding a JSON schema for the answer")
    @argument(
        "--tools",
        metavar="VAR",
        help="Variable holding the tools QwQ may call: functions (they run) or tool dicts",
    )
    @argument("--confirm-tools", action="store_true", help="Ask before each tool call runs")
    @argument("--out", metavar="NAME", help="Store the response in this variable")
    @argument("--code", action="store_true", help="Put the answer's code into a new cell below")
    @argument("--no-interpolate", action="store_true", help="Send {@name} literally")
    @argument("--dry-run", action="store_true", help="Show the exact request; send nothing")
    @argument(
        "--compare",
        metavar="PARAM=V1,V2,…",
        help="Run the prompt once per value side by side, e.g. temperature=0.2,0.6,1.0",
    )
    @argument(
        "--vote",
        type=int,
        metavar="N",
        help="Run the prompt N times with different seeds; show the majority answer (2 to 16)",
    )
    @argument("--background", action="store_true", help="Return at once; stream in background")
    @argument(
        "--reuse",
        action="store_true",
        help="If this cell's request is the one its saved output was made by, show that again",
    )
    @argument(
        "--anatomy",
        action="store_true",
        help="Add the reasoning's anatomy to the footer (where the answer first appeared, …)",
    )
    @argument("--backend", choices=BACKENDS, help="Where to send the request")
    @argument("--base-url", metavar="URL", help="OpenAI-compatible base URL")
    @argument("--model", metavar="ID", help="Model id")
    @argument(
        "--server",
        choices=SERVERS,
        help="Which OpenAI-compatible server base_url is (auto asks GET /models)",
    )
    @_steering_flags
    @_parameter_flags
    @_listing_commands
    @line_cell_magic
    def qwq(self, line: str, cell: str | None = None) -> Any:
        """Ask QwQ: the cell is the prompt; reasoning and answer stream into the output.

        In [1]: %%qwq --temperature 0.8
           ...: Why is the sky blue?

        Put kernel values into the prompt with {@name} or {@expression}.

        Line commands (a `# comment` may follow any of them):
        %qwq {commands}
        """
        from ..core.errors import QwQError

        if cell is None:
            from .commands import run_command

            try:
                return run_command(self, line)
            except QwQError as err:
                raise UsageError(str(err)) from None
        return self.run_cell(self.parse_cell(line, cell.strip()))

    # --- %%qwq ---------------------------------------------------------------------------------

    def parse_cell(self, flags: str, prompt: str) -> CellRequest:
        """A `%%qwq` line and cell as one value (also `%qwq retry` and `explain`)."""
        try:
            args = parse_argstring(self.qwq, flags)
        except UsageError as err:
            raise UsageError(str(err).strip().split("\n")[-1]) from None
        return self.cell_from(self._unquote(args), prompt)

    def cell_from(self, args: Any, prompt: str) -> CellRequest:
        """Parsed flags and the prompt as one `CellRequest`; bad values end in one line."""
        from ..core.errors import QwQError
        from .cell import cell_request

        try:
            return cell_request(
                args,
                prompt,
                settings=self.session.settings,
                namespace=self.shell.user_ns,
                hidden=getattr(self.shell, "user_ns_hidden", {}),
            )
        except QwQError as err:
            raise UsageError(str(err)) from None

    def parse_known(self, line: str) -> tuple[Any, list[str]]:
        """Flags first, the rest of the line as words: `%qwq request [FLAGS] TEXT`."""
        # IPython's own splitter (quotes as in a %%qwq line); it re-exports it untyped.
        from IPython.utils.process import arg_split  # type: ignore[attr-defined]

        args, rest = self.qwq.parser.parse_known_args(arg_split(line))
        return self._unquote(args), rest

    @staticmethod
    def _unquote(args: Any) -> Any:
        """IPython's splitter keeps the quotes around a quoted value: --system 'Be brief.'"""
        for name, value in vars(args).items():
            if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] in "'\"":
                setattr(args, name, value[1:-1])
        return args

    def run_cell(self, request: CellRequest, *, cell_id: str | None = None) -> Any:
        """Run a parsed cell in its one mode; package errors end in one line."""
        from ..core.errors import QwQError

        if not request.prompt:
            raise UsageError("the cell is empty: write the question below %%qwq")
        if request.code and self.policy is not None and not self.policy.code:
            raise UsageError(f"--code is off under the class's policy ({self.policy.source})")
        settings = request.settings
        try:
            prompt = request.prompt
            if request.interpolate and settings.interpolate:
                from ..session.context import interpolate as fill_in

                prompt = fill_in(prompt, self.shell.user_ns, budget=settings.variable_budget)
            if request.mode in ("compare", "vote"):
                return self._store(self._runs(request, prompt), request.out)
            ask = self.session.ask(
                prompt,
                settings,
                chat=request.chat,
                new=request.new,
                history=request.history,
                append=request.append,
                cell_id=cell_id or self._cell_id(),
            )
            ask.cell_source = self._cell_source()
            if request.mode == "dry_run":
                from ..features.preview import preview

                return self._store(preview(self.session, ask), request.out)
            if request.mode == "background" and self.in_kernel:
                return self._ask_in_background(ask, settings, request.out)
            response = self.session.run(ask, self._view(settings))
        except QwQError as err:
            raise UsageError(str(err)) from None
        if request.code:
            self._code_into_cell(response.answer)
        return self._finish(response, request.out)

    def _runs(self, request: CellRequest, prompt: str) -> Any:
        """Several runs of one prompt at once: a comparison of values, or a vote over seeds."""
        chat, new, history = request.chat, request.new, request.history
        if request.mode == "vote":
            from ..features.vote import run_vote

            return run_vote(
                self.session, prompt, request.settings, request.vote,
                chat=chat, new=new, history=history,
            )  # fmt: skip
        from ..features.compare import run_comparison

        return run_comparison(
            self.session, prompt, request.settings, request.compare,
            chat=chat, new=new, history=history,
        )  # fmt: skip

    def _code_into_cell(self, answer: str) -> None:
        """Put the answer's code blocks into a new cell below; never run them."""
        from ..session.context import code_blocks

        code = "\n\n".join(code_blocks(answer))
        if not code:
            print("note: the answer has no code block to put into a cell")
        elif "google.colab" in sys.modules:
            print("note: Colab cannot insert cells; copy the code from the answer above")
        else:
            self.shell.set_next_input(code, replace=False)

    def _finish(self, response: Response, out: str | None) -> DisplayedResponse:
        from ..render.render import DisplayedResponse

        value = DisplayedResponse.wrap(response, self.shell.execution_count)
        if response.settings.get("guided_json") and response.answer:
            try:
                value.value = response.json()
            except ValueError:
                value.value = None
        self._store(value, out)
        return value

    def _store(self, value: Any, out: str | None) -> Any:
        """`--out NAME`: keep the cell's value in a variable too."""
        if out:
            self.shell.user_ns[out] = value
        return value

    def _ask_in_background(self, ask: Any, settings: QwQSettings, out: str | None) -> None:
        """The cell returns at once; a Stop button beside the output cancels the call."""
        from ..session.frontend import frontend

        self.session.check_background(ask)  # before any button is shown
        streams: list[Any] = []
        view = frontend().live_view(
            show_reasoning=settings.show_reasoning,
            on_stop=lambda: streams[0].cancel(wait=False) if streams else None,
            on_answer=lambda: streams[0].answer_now() if streams else None,
            anatomy=settings.anatomy,
            fold=self.session.folded,
        )
        streams.append(self.session.run_in_background(ask, view))
        self._store(streams[0], out)

    def _view(self, settings: QwQSettings) -> Any:
        from ..session.frontend import frontend

        key = "■" if self.in_kernel else "Ctrl-C"
        answers = settings.interrupt == "answer" and settings.stream
        hint = f"{key} answers now, twice stops" if answers else f"{key} stops"
        return frontend().live_view(
            show_reasoning=settings.show_reasoning,
            hint=hint,
            anatomy=settings.anatomy,
            fold=self.session.folded,
        )

    @property
    def in_kernel(self) -> bool:
        """A notebook frontend: background calls, live grids and plots are possible."""
        from ..session.frontend import frontend

        return frontend().notebook

    def _cell_source(self) -> str:
        """The cell as the frontend sent it (what the .ipynb keeps), or "" outside a kernel."""
        kernel = getattr(self.shell, "kernel", None)
        try:
            code = kernel.get_parent().get("content", {}).get("code") if kernel else None
        except Exception:  # an unusual kernel: no source, so restore cannot spot an edit
            return ""
        return code if isinstance(code, str) else ""

    def _cell_id(self) -> str | None:
        """JupyterLab, Notebook 7 and VS Code send the cell's id; nbclient and terminals don't."""
        kernel = getattr(self.shell, "kernel", None)
        if kernel is None:
            return None
        try:
            cell_id = kernel.get_parent().get("metadata", {}).get("cellId")
        except Exception:  # an unusual kernel: fall back to appending turns
            return None
        return cell_id if isinstance(cell_id, str) else None


_loaded: dict[int, QwQMagics] = {}


def load(shell: Any) -> None:
    settings = QwQSettings(parent=shell)
    shell.configurables.append(settings)
    magics = QwQMagics(shell, settings)
    shell.register_magics(magics)
    _loaded[id(shell)] = magics
    from ..session.active import on_first_use

    on_first_use(lambda: magics.session)  # `batch()` before any cell gets %config's settings
    magics.apply_policy(None, quiet_if_none=True)


def unload(shell: Any) -> None:
    magics = _loaded.pop(id(shell), None)
    if magics is None:
        return
    from ..session.active import deactivate

    if magics._session is not None:
        magics._session.close()
    deactivate(magics._session)
    for kind in ("line", "cell"):
        shell.magics_manager.magics[kind].pop("qwq", None)
    if magics.settings in shell.configurables:
        shell.configurables.remove(magics.settings)
