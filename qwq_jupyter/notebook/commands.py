"""The `%qwq` line commands. Each returns a display object or prints one short report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from IPython.core.error import UsageError

from ..core.credentials import MASK, redact
from ..core.printable import printable
from ..core.settings import NUMERIC_PARAMETERS
from ..render.render import money, plural
from ..session.frontend import frontend
from .command_table import COMMANDS, command_list

if TYPE_CHECKING:
    from ..session.session import Session
    from .cell import CellRequest


class CellMagic(Protocol):
    """What the commands need of `%%qwq` (the magic dispatches to them, so no import back)."""

    shell: Any

    @property
    def session(self) -> Session: ...

    @property
    def in_kernel(self) -> bool: ...

    def parse_cell(self, flags: str, prompt: str) -> CellRequest: ...

    def parse_known(self, line: str) -> tuple[Any, list[str]]: ...

    def cell_from(self, args: Any, prompt: str) -> CellRequest: ...

    def run_cell(self, request: CellRequest, *, cell_id: str | None = None) -> Any: ...

    def apply_policy(self, notebook: str | None, *, quiet_if_none: bool = False) -> None: ...


def run_command(magic: CellMagic, line: str) -> Any:
    """`%qwq NAME ARGS…`: look NAME up in the table, type its words, run it."""
    name, _, rest = line.strip().partition(" ")
    if not name or name.startswith("#"):
        raise UsageError(f"usage: %qwq {command_list()}  (%%qwq? for help)")
    command = COMMANDS.get(name)
    if command is None:
        raise UsageError(f"unknown command {name!r}; try %qwq? for the list")
    arguments = command.words(rest)
    return getattr(Commands(magic), command.name)(*arguments)


__all__ = ["Commands", "run_command"]


class Commands:
    """The handlers of the `COMMANDS` table: one method per command, typed arguments in."""

    def __init__(self, magics: CellMagic) -> None:
        self._magics = magics
        self._session = magics.session

    def panel(self) -> Any:
        """The ipywidgets parameter panel, bound to the same settings as %config."""
        if not frontend().notebook:
            # Widgets need a notebook; a terminal gets the same settings as %config lines.
            settings = self._session.settings
            print("the panel needs a notebook (widgets); here, set the same values with %config:")
            for name in (*NUMERIC_PARAMETERS, "system_prompt", "show_reasoning", "backend"):
                print(printable(f"  %config QwQSettings.{name} = {getattr(settings, name)!r}"))
            return None
        from .panel import ParameterPanel

        return ParameterPanel(self._session).widget

    def history(self, name: str | None = None) -> Any:
        """The conversation's turns: prompts and answers, and what is sent back."""
        from ..render.history import history_output

        return history_output(self._session.conversation(name))

    def chats(self) -> Any:
        """Every conversation with its number of turns; the current one is marked."""
        store = self._session.store
        self._session.conversation()  # the current one exists even before its first turn
        rows = [
            f"{'*' if name == store.current else ' '} {name}: {plural(len(c.turns), 'turn')}"
            for name, c in store.conversations.items()
        ]
        print(printable("\n".join(rows)))  # names can come from a loaded file

    def reset(self, name: str | None = None) -> None:
        """Forget a conversation's turns (the current one by default)."""
        conversation = self._session.store.reset(
            name, system_prompt=self._session.settings.system_prompt
        )
        print(f"conversation {conversation.name!r} is empty now")

    def undo(self, name: str | None = None) -> None:
        """Drop the last turn."""
        turn = self._session.conversation(name).undo()
        print("nothing to undo" if turn is None else f"removed the turn {_short(turn.prompt)!r}")

    def keep(self, name: str | None = None) -> None:
        """Send the last turn back as history even though it was interrupted or cut off."""
        conversation = self._session.conversation(name)
        if not conversation.turns:
            raise UsageError("no turn to keep")
        turn = conversation.turns[-1]
        turn.keep = True
        print(f"the turn {_short(turn.prompt)!r} will be sent back as history")

    def retry(self, flags: str = "") -> Any:
        """Regenerate the last turn, with new flags if given: %qwq retry --temperature 0.9."""
        magics = self._magics
        request = magics.parse_cell(flags, "")
        conversation = self._session.conversation(request.chat)
        if not conversation.turns:
            raise UsageError("no turn to retry")
        turn = conversation.turns[-1]
        retry_id = turn.cell_id or f"retry-{id(turn)}"
        turn.cell_id = retry_id  # so the new reply replaces it
        # The stored prompt is already filled in: interpolating it again could evaluate an
        # escaped {@@name} the user meant to send literally.
        request = request.but(prompt=turn.prompt, append=False, interpolate=False)
        return magics.run_cell(request, cell_id=retry_id)

    def save(self, path: str) -> None:
        """Save every conversation to a JSON file (never the token)."""
        written = self._session.store.save(path)
        print(f"saved {len(self._session.store.conversations)} conversation(s) to {written}")

    def load(self, path: str) -> None:
        """Load conversations saved with %qwq save."""
        names = self._session.store.load(path)
        print(printable(f"loaded {', '.join(names) or 'no conversations'} from {path}"))

    def restore(self, path: str | None = None) -> None:
        """Rebuild the conversations from a saved notebook's outputs (this notebook by default)."""
        from ..core.errors import QwQError

        try:
            print(printable(self._session.restore(path)))
        except QwQError as err:
            raise UsageError(str(err)) from None

    def settings(self) -> None:
        """Every setting, and which credentials are set (the token masked)."""
        settings = self._session.settings
        credentials = self._session.client.credentials
        width = max(len(name) for name in settings.trait_names(config=True))
        for name, value in settings.as_dict().items():
            # a base URL may hold the account id (…/accounts/<id>/ai/v1): masked like the rest
            print(f"{name:<{width}} = {redact(repr(value), credentials.secrets())}")
        account = credentials.account_id[:4] + "…" if credentials.account_id else "(not set)"
        print(f"{'account id':<{width}} = {account}")
        print(f"{'api token':<{width}} = {MASK if credentials.api_token else '(not set)'}")

    def usage(self) -> None:
        """Tokens and dollars spent in this session."""
        totals = self._session.totals
        print(
            f"{plural(totals.calls, 'call')} · {plural(totals.input_tokens, 'input token')} · "
            f"{plural(totals.output_tokens, 'output token')} · {money(totals.cost)}"
        )
        if totals.unknown_usage_calls:
            unknown = plural(totals.unknown_usage_calls, "call")
            print(f"({unknown} reported no usage: not counted)")

    def anatomy(self, rest: str = "") -> Any:
        """The anatomy of a reasoning: %qwq anatomy [N | rN] [--chat NAME] (default: the last)."""
        from ..core.errors import QwQError
        from ..features.dissect import anatomy_of

        words, chat = _with_chat("anatomy", rest)
        if len(words) > 1:
            raise UsageError(f"usage: %qwq {COMMANDS['anatomy'].usage}")
        try:
            return anatomy_of(self._session, words[0] if words else None, chat)
        except QwQError as err:
            raise UsageError(str(err)) from None

    def diff(self, rest: str = "") -> Any:
        """Where two reasonings diverge: %qwq diff A B (turn numbers, or rN for run N)."""
        from ..core.errors import QwQError
        from ..features.dissect import diff_of

        words, chat = _with_chat("diff", rest)
        if len(words) != 2:
            raise UsageError(f"usage: %qwq {COMMANDS['diff'].usage}")
        try:
            return diff_of(self._session, words[0], words[1], chat)
        except QwQError as err:
            raise UsageError(str(err)) from None

    def explain(self, flags: str = "") -> Any:
        """Ask QwQ for the cause of the last error and a fix: %qwq explain [--code]."""
        from ..features.explain import explain_prompt

        prompt = explain_prompt(self._magics.shell, self._session.client.credentials)
        if prompt is None:
            raise UsageError("no error to explain yet: %qwq explain works after a cell fails")
        request = self._magics.parse_cell(flags, prompt)
        history = request.history and request.chat is not None  # one-off unless --chat
        return self._magics.run_cell(request.but(history=history, interpolate=False))

    def request(self, line: str = "") -> Any:
        """Show what `%%qwq` would send for a prompt, without sending: %qwq request [FLAGS] TEXT."""
        args, rest = self._magics.parse_known(line)
        args.dry_run = True
        return self._magics.run_cell(self._magics.cell_from(args, " ".join(rest)))

    def stats(self, name: str | None = None) -> Any:
        """Turns, tokens, dollars and time per conversation, and reasoning per turn."""

        from ..features.stats import SessionStats

        store = self._session.store
        chosen = [store.conversations[name]] if name in store.conversations else None
        if name and chosen is None:
            raise UsageError(f"no conversation named {name!r}")
        stats = SessionStats(chosen or list(store.conversations.values()))
        shown = frontend()
        figure = stats.figure() if shown.notebook else None  # a terminal shows no plot
        if figure is not None:
            shown.show(figure)
        return stats

    def record(self, path: str) -> None:
        """Record every reply into a cassette file: %qwq record PATH (or: %qwq record off)."""
        print(self._session.use_cassette(None if path == "off" else path, "record"))

    def replay(self, path: str, speed: float = 1.0) -> None:
        """Replay recorded replies, no network or key: %qwq replay PATH [SPEED] (0 = at once)."""
        print(self._session.use_cassette(None if path == "off" else path, "replay", speed))

    def pick(self, number: int | None = None) -> None:
        """Make run N of the last `--compare` or `--vote` the conversation's next turn; after a
        vote, no N picks the first run that gave the majority answer."""
        comparison = self._session.last_comparison
        if comparison is None:
            raise UsageError("nothing to pick from: run %%qwq --compare or --vote first")
        if number is None:
            majority = getattr(comparison, "majority_run", lambda: None)()
            if majority is None:
                raise UsageError(
                    f"pick a run from 1 to {len(comparison.runs)} (only a vote has a majority)"
                )
            number = majority + 1
        if not 1 <= number <= len(comparison.runs):
            raise UsageError(f"pick a run from 1 to {len(comparison.runs)}")
        run = comparison.runs[number - 1]
        if not (run.response.answer or run.response.reasoning):
            raise UsageError(f"run {number} ({run.label}) has no reply to keep")
        if not self._session.keep_turn(run.ask, run.response):
            raise UsageError("the conversation was reset or loaded since the runs")
        print(f"run {number} ({run.label}) is now the last turn of {run.ask.conversation.name!r}")

    def login(self) -> None:
        """Type the account id and token into this kernel only; the token is never echoed."""
        import getpass

        from ..core.credentials import Credentials, Secret

        self._session.leave_demo()  # real keys go to the real API, not the demo server
        current = self._session.client.credentials
        shown = current.account_id[:4] + "…" if current.account_id else "not set"
        account = input(f"Cloudflare account id [{shown}]: ")
        token = getpass.getpass("Cloudflare API token (hidden): ")
        self._session.use_credentials(
            Credentials(
                account.strip() or current.account_id,
                Secret(token.strip()) if token else current.api_token,
                current.openai_key,
            )
        )
        print("credentials set for this kernel (not saved anywhere)")

    def demo(self) -> None:
        """Use the offline demo server unless Workers AI or a base URL is configured."""
        print(self._session.use_demo_unless_configured())

    def answer(self) -> None:
        """Answer now: cut the thinking of background calls and let QwQ answer from it."""
        forced = self._session.answer_all()
        if forced:
            print(f"answering now: {plural(forced, 'background call')}")
        else:
            print("no background call is thinking")

    def budget(self, amount: str | None = None) -> None:
        """%qwq budget [DOLLARS | off]: cap what this session spends; alone, spent and left."""
        session = self._session
        if amount is not None:
            if amount.lower() in ("off", "none"):
                session.cap_spending(None)
            else:
                try:
                    cap = float(amount.lstrip("$"))
                except ValueError:
                    cap = -1.0
                if not 0 <= cap <= 1_000_000:  # also refuses nan
                    raise UsageError(
                        f"%qwq budget: DOLLARS must be a number from 0 up (or off), not {amount!r}"
                    )
                session.cap_spending(cap)
        totals = session.totals
        print(session.budget.describe(totals.cost, totals.unknown_usage_calls))

    def policy(self, action: str | None = None, notebook: str | None = None) -> None:
        """%qwq policy [load [NOTEBOOK]]: the class's policy, shown or applied."""
        if action is not None:
            if action != "load":
                raise UsageError(f"usage: %qwq {COMMANDS['policy'].usage}")
            self._magics.apply_policy(notebook)
            return
        policy = self._session.policy
        if policy is None:
            print("no class policy is applied (%qwq policy load NOTEBOOK applies one)")
            return
        print(printable(f"class policy from {policy.source}:"))
        for line in policy.lines() or ["nothing locked"]:
            print(printable(f"  {line}"))
        print("  (a classroom aid, not a security boundary)")

    def reveal(self) -> Any:
        """Show answers from now on (the class's policy folded them); the last one, now."""
        from ..render.render import response_bundle

        last = self._session.reveal()
        print("answers are shown from now on")
        if last is not None and last.answer:
            from IPython.display import display

            display(response_bundle(last, footer=False), raw=True)
        return None

    def stop(self) -> None:
        """Stop calls running in the background."""
        stopped = self._session.stop_all()
        print(f"stopped {plural(stopped, 'background call')}" if stopped else "nothing was running")


def _with_chat(command: str, rest: str) -> tuple[list[str], str | None]:
    """The words of `rest`, and the NAME of a `--chat NAME` among them."""
    import shlex

    try:
        words = shlex.split(rest)
    except ValueError as err:
        raise UsageError(f"%qwq {command}: {err}") from None
    if "--chat" not in words:
        return words, None
    at = words.index("--chat")
    if at + 1 >= len(words):
        raise UsageError(f"%qwq {command}: --chat needs a conversation name")
    return words[:at] + words[at + 2 :], words[at + 1]


def _short(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
