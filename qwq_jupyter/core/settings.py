"""The one settings object: model parameters and the extension's own options.

`QwQSettings` is a traitlets `Configurable`, so the same values are edited by `%config`,
`ipython_config.py`, the `%%qwq` flags (through `QwQSettings.override`) and the parameter panel
(through `traitlets.link`). Every trait is validated when it is set, so an invalid value is
refused before any request is built.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

from traitlets import Any as AnyValue
from traitlets import (
    Bool,
    Dict,
    Enum,
    Float,
    Int,
    TraitError,
    Unicode,
    default,
    validate,
)
from traitlets.config import Configurable

from .errors import ConfigurationError
from .public import publish

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "MODEL_PARAMETERS",
    "NUMERIC_PARAMETERS",
    "SERVERS",
    "QwQSettings",
    "out_of_range",
    "parameter_range",
]

DEFAULT_MODEL = "@cf/qwen/qwq-32b"
BACKENDS = ("workers-ai", "ai-gateway", "openai", "demo")
#: What kind of OpenAI-compatible server `base_url` is: it decides which parameters are sent.
SERVERS = ("auto", "vllm", "sglang", "llama.cpp", "ollama", "generic")


class _Bounded:
    """Mixin: refuse values outside [lo, hi] with a message naming parameter, value and range."""

    lo: float
    hi: float

    def validate(self, obj: Any, value: Any) -> Any:
        if value is None and self.allow_none:  # type: ignore[attr-defined]
            return value
        if isinstance(value, bool):
            kind = "an integer" if isinstance(self, Int) else "a number"
            raise TraitError(f"{self.name} must be {kind}, not {value!r}")  # type: ignore[attr-defined]
        try:
            value = super().validate(obj, value)  # type: ignore[misc]
        except TraitError:
            kind = "an integer" if isinstance(self, Int) else "a number"
            raise TraitError(
                f"{self.name} must be {kind} from {_fmt(self.lo)} to {_fmt(self.hi)}, "  # type: ignore[attr-defined]
                f"not {value!r}"
            ) from None
        if not self.lo <= value <= self.hi:
            raise TraitError(out_of_range(self.name, value, self.lo, self.hi))  # type: ignore[attr-defined]
        return value


class BoundedFloat(_Bounded, Float):  # type: ignore[type-arg]
    def __init__(self, default: float | None, lo: float, hi: float, **kwargs: Any) -> None:
        self.lo, self.hi = lo, hi
        if default is None:
            super().__init__(None, allow_none=True, **kwargs)
        else:
            super().__init__(default, allow_none=False, **kwargs)


class BoundedInt(_Bounded, Int):  # type: ignore[type-arg]
    def __init__(self, default: int | None, lo: int, hi: int, **kwargs: Any) -> None:
        self.lo, self.hi = lo, hi
        if default is None:
            super().__init__(None, allow_none=True, **kwargs)
        else:
            super().__init__(default, allow_none=False, **kwargs)


def parameter_range(name: str) -> tuple[float, float]:
    """The range of a numeric model parameter, as its flag's help and the panel's slider say."""
    trait = QwQSettings.class_traits()[name]
    assert isinstance(trait, _Bounded), f"{name} is not a bounded parameter"
    return trait.lo, trait.hi


def out_of_range(name: str, value: float, lo: float, hi: float, where: str = "") -> str:
    """The one-line refusal of a value outside [lo, hi], `where` naming whose range it is.

    One wording for the settings' outer bounds and for each dialect's narrower ranges, so a
    refusal reads the same whichever check made it.
    """
    on = f" on {where}" if where else ""
    return f"{name} must be from {_fmt(lo)} to {_fmt(hi)}{on}, got {_fmt(value)}"


def _fmt(number: float) -> str:
    return f"{number:,}" if isinstance(number, int) else f"{number:g}"


class QwQSettings(Configurable):
    """Settings for QwQ calls. Edit with `%config QwQSettings.temperature = 0.7`."""

    # --- Model parameters ----------------------------------------------------------------------
    # The ranges here are outer bounds: the union of what Workers AI (its schema for
    # @cf/qwen/qwq-32b) and OpenAI-compatible servers accept. Each dialect narrows them
    # (`wire/dialects.py`) when a request is prepared: Workers AI's penalties are 0 to 2,
    # OpenAI's top_p is 0 to 1.
    # Defaults follow Qwen's advice for QwQ, not the server's (temperature 0.15, max_tokens 256,
    # which cut reasoning off after a few sentences); that is why they are always sent.
    max_tokens = BoundedInt(
        16_000, 1, 24_000, help="Most tokens to generate, reasoning included"
    ).tag(config=True, model_param=True)
    temperature = BoundedFloat(
        0.6, 0.0, 5.0, help="Sampling temperature (Qwen advises 0.6; 0 loops endlessly)"
    ).tag(config=True, model_param=True)
    top_p = BoundedFloat(0.95, 0.0, 2.0, help="Nucleus sampling mass").tag(
        config=True, model_param=True
    )
    top_k = BoundedInt(40, 1, 50, help="Sample from the k likeliest tokens").tag(
        config=True, model_param=True
    )
    seed = BoundedInt(None, 1, 9_999_999_999, help="Random seed for repeatable runs").tag(
        config=True, model_param=True
    )
    repetition_penalty = BoundedFloat(None, 0.0, 2.0, help="Penalty for repeated tokens").tag(
        config=True, model_param=True
    )
    frequency_penalty = BoundedFloat(
        None,
        -2.0,
        2.0,
        help="Penalty growing with a token's frequency so far (Workers AI: 0 to 2)",
    ).tag(config=True, model_param=True)
    presence_penalty = BoundedFloat(
        None,
        -2.0,
        2.0,
        help="Penalty for any token already present (0-2 curbs endless loops; Workers AI: 0 to 2)",
    ).tag(config=True, model_param=True)
    raw = Bool(False, help="Send the prompt as-is, without the chat template").tag(
        config=True, model_param=True
    )
    stream = Bool(True, help="Stream tokens as they are generated").tag(
        config=True, model_param=True
    )
    guided_json = Dict(None, allow_none=True, help="JSON schema the answer must satisfy").tag(
        config=True, model_param=True
    )
    tools = AnyValue(
        None,
        allow_none=True,
        help="Tools the model may call: Python functions (a list, or a dict of name -> "
        "function), which run when QwQ calls them, or JSON descriptions of tools",
    ).tag(config=True, model_param=True)
    functions = AnyValue(
        None,
        allow_none=True,
        help="Deprecated by the API in favour of tools: given here, they are sent as tools",
    ).tag(config=True)
    max_tool_rounds = BoundedInt(
        5,
        0,
        50,
        help="Most rounds of tool calls in one cell: results go back and QwQ goes on "
        "(0: show the calls, run nothing)",
    ).tag(config=True)
    confirm_tools = Bool(False, help="Ask before each tool call runs").tag(config=True)
    tool_result_chars = BoundedInt(
        4_000, 100, 100_000, help="Most characters of one tool result sent back to the model"
    ).tag(config=True)

    extra_body = Dict(
        help="More fields merged into every request body, as is: e.g. reasoning_effort, "
        "chat_template_kwargs, or {'options': {'rejectIfBusy': True}} on Workers AI"
    ).tag(config=True)

    # --- Where requests go --------------------------------------------------------------------
    backend = Enum(
        BACKENDS,
        "workers-ai",
        help="workers-ai (native REST), ai-gateway (through Cloudflare AI Gateway), "
        "or openai (any OpenAI-compatible server: vLLM, SGLang, Ollama, llama.cpp)",
    ).tag(config=True)
    model = Unicode(DEFAULT_MODEL, help="Model id").tag(config=True)
    base_url = Unicode(
        "", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1 (backend openai)"
    ).tag(config=True)
    api_base = Unicode("https://api.cloudflare.com/client/v4", help="Cloudflare API base URL").tag(
        config=True
    )
    gateway_base = Unicode(
        "https://gateway.ai.cloudflare.com/v1", help="Cloudflare AI Gateway base URL"
    ).tag(config=True)
    gateway_id = Unicode("", help="AI Gateway id (backend ai-gateway)").tag(config=True)
    server = Enum(
        SERVERS,
        "auto",
        help="The OpenAI-compatible server behind base_url: vllm, sglang, llama.cpp, ollama, "
        "generic (only OpenAI's own parameters), or auto (ask GET {base_url}/models once)",
    ).tag(config=True)

    # --- Conversation and accounting ----------------------------------------------------------
    system_prompt = Unicode("", help="System prompt for new conversations").tag(config=True)
    context_window = BoundedInt(
        24_000, 1_000, 1_000_000, help="Tokens of input + output the model accepts"
    ).tag(config=True)
    input_price = BoundedFloat(0.66, 0.0, 1_000.0, help="Dollars per million input tokens").tag(
        config=True
    )
    output_price = BoundedFloat(1.00, 0.0, 1_000.0, help="Dollars per million output tokens").tag(
        config=True
    )

    # --- Network behaviour ----------------------------------------------------------------------
    connect_timeout = BoundedFloat(10.0, 0.1, 600.0, help="Seconds to connect").tag(config=True)
    stall_timeout = BoundedFloat(
        90.0, 0.1, 3_600.0, help="Seconds without data before a reply counts as stalled"
    ).tag(config=True)
    deadline = BoundedFloat(
        900.0, 1.0, 86_400.0, help="Seconds one call may take in all, retries included"
    ).tag(config=True)
    max_retries = BoundedInt(4, 0, 20, help="Retries after a retryable failure").tag(config=True)
    retry_after_cap = BoundedFloat(
        60.0, 0.0, 3_600.0, help="Longest Retry-After wait honoured; longer means give up"
    ).tag(config=True)

    # --- Steering the thinking ------------------------------------------------------------------
    # Not sent: the client acts on them while the reasoning streams (client/steering.py).
    think_budget = BoundedInt(
        None,
        0,
        24_000,
        help="Most reasoning tokens: at this many the thinking is cut and QwQ answers from it "
        "(0: answer without thinking)",
    ).tag(config=True, steering=True)
    think_min = BoundedInt(
        None,
        1,
        24_000,
        help="Fewest reasoning tokens: an earlier end of thinking is replaced by 'Wait,' "
        "(at most 3 times)",
    ).tag(config=True, steering=True)
    on_loop = Enum(
        ("answer", "stop", "warn", "off"),
        "answer",
        help="When the reasoning repeats itself: answer from the reasoning before the loop, "
        "stop, only warn, or do not watch",
    ).tag(config=True, steering=True)
    max_cost = BoundedFloat(
        None,
        0.0,
        1_000.0,
        help="Most dollars one call may cost (at input_price / output_price)",
    ).tag(config=True, steering=True)
    on_budget = Enum(
        ("answer", "stop"),
        "answer",
        help="When a call reaches max_cost: answer from the reasoning so far, or stop",
    ).tag(config=True, steering=True)
    interrupt = Enum(
        ("answer", "stop"),
        "answer",
        help="What ■ does while QwQ thinks: answer now (a second ■ stops), or stop",
    ).tag(config=True, steering=True)

    # --- Kernel values in prompts ---------------------------------------------------------------
    interpolate = Bool(True, help="Replace {@name} in prompts with a summary of the value").tag(
        config=True
    )
    variable_budget = BoundedInt(
        1_000, 50, 20_000, help="Most tokens one interpolated value may take"
    ).tag(config=True)

    # --- Display -----------------------------------------------------------------------------
    show_reasoning = Bool(True, help="Show the reasoning (collapsed once the answer starts)").tag(
        config=True
    )
    background = Bool(False, help="Return the cell at once and stream in the background").tag(
        config=True
    )
    anatomy = Bool(
        False,
        help="Add the reasoning's anatomy to the footer: where the answer first appeared, "
        "how much thinking came after, backtracks, self-checks",
    ).tag(config=True)

    # --- The notebook as the lesson's record -------------------------------------------------
    reuse = Enum(
        ("off", "saved"),
        "off",
        help="saved: a cell whose request equals the one its saved output was made by shows "
        "that saved turn again and sends nothing ($0)",
    ).tag(config=True)
    notebook = Unicode(
        "",
        help="The saved notebook reuse reads (default: the one Jupyter Server started this "
        "kernel for; nbclient and papermill need it set)",
    ).tag(config=True)

    # Where requests go can also come from the environment, so `qwq-jupyter lab` and
    # deployments can point every kernel somewhere without editing notebooks.
    @default("backend")
    def _backend_from_environment(self) -> str:
        if os.environ.get("QWQ_BACKEND") in BACKENDS:
            return os.environ["QWQ_BACKEND"]
        return "openai" if os.environ.get("QWQ_BASE_URL") else "workers-ai"

    @default("server")
    def _server_from_environment(self) -> str:
        value = os.environ.get("QWQ_SERVER", "auto")
        return value if value in SERVERS else "auto"

    @default("base_url")
    def _base_url_from_environment(self) -> str:
        return os.environ.get("QWQ_BASE_URL", "")

    @default("model")
    def _model_from_environment(self) -> str:
        return os.environ.get("QWQ_MODEL", DEFAULT_MODEL)

    @default("api_base")
    def _api_base_from_environment(self) -> str:
        return os.environ.get("QWQ_API_BASE", "https://api.cloudflare.com/client/v4")

    @default("gateway_id")
    def _gateway_from_environment(self) -> str:
        return os.environ.get("QWQ_GATEWAY_ID", "")

    @validate("tools", "functions")
    def _tools_are_describable(self, proposal: Any) -> Any:
        """Each tool must become a description the model can read: refused here otherwise."""
        from .tools import tools_from  # on first use: %load_ext stays cheap

        value = proposal["value"]
        try:
            tools_from(value)
        except ConfigurationError as err:
            name, line = proposal["trait"].name, str(err)
            raise TraitError(line if line.startswith(name) else f"{name}: {line}") from None
        return value

    def lock(self, refusal: Callable[[str, Any], str | None] | None) -> None:
        """Have every later change asked first: `refusal(name, value)` returns why not, or None.

        How an instructor's policy holds its values against `%config`, the flags (through
        `override`, whose copies inherit it) and the panel (`traitlets.link` sets attributes).
        """
        object.__setattr__(self, "_refusal", refusal)

    def __setattr__(self, name: str, value: Any) -> None:
        refusal = self.__dict__.get("_refusal")
        if refusal is not None and name in self.traits():
            why = refusal(name, value)
            if why:
                raise TraitError(why)
        super().__setattr__(name, value)

    def model_parameters(self) -> dict[str, Any]:
        """The model parameters that are set (None means: leave to the server)."""
        values = {name: getattr(self, name) for name in MODEL_PARAMETERS}
        # Functions go out as their descriptions; `functions` is the deprecated way to say tools.
        described = []
        if self.tools or self.functions:
            from .tools import all_tools

            described = all_tools(self.tools, self.functions)
        values["tools"] = [tool.schema() for tool in described]
        # An empty schema or tool list means the same as none: leave it out of the request.
        return {name: value for name, value in values.items() if value not in (None, {}, [])}

    def override(self, **changes: Any) -> QwQSettings:
        """A validated copy with `changes` applied; this object is left untouched."""
        clone = QwQSettings()
        for name in self.trait_names(config=True):
            value = getattr(self, name)
            # Tools are the user's functions (and the objects they are bound to): shared, never
            # copied, so a tool's state and data are the ones the user's code sees.
            shared = name in ("tools", "functions")
            clone.set_trait(name, copy.copy(value) if shared else copy.deepcopy(value))
        clone.lock(self.__dict__.get("_refusal"))  # a cell's flags meet the same policy
        for name, value in changes.items():
            set_validated(clone, name, value)
        return clone

    def reset_to_defaults(self) -> None:
        """Reset the model parameters to QwQ's recommended defaults."""
        for name in MODEL_PARAMETERS:
            trait = self.traits()[name]
            self.set_trait(name, trait.default())

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sorted(self.trait_names(config=True))}


def set_validated(settings: QwQSettings, name: str, value: Any) -> None:
    """Set one setting, turning a traitlets refusal into a one-line ConfigurationError."""
    if not settings.has_trait(name) or not settings.trait_metadata(name, "config"):
        raise ConfigurationError(f"unknown setting {name!r}")
    trait = settings.traits()[name]
    if isinstance(trait, Enum) and value not in (trait.values or ()):
        choices = ", ".join(map(str, trait.values or ()))
        raise ConfigurationError(f"{name} must be one of {choices}, not {value!r}")
    try:
        setattr(settings, name, value)
    except TraitError as err:
        message = str(err).split("\n")[0]
        if name not in message:
            message = f"{name}: {message}"
        raise ConfigurationError(message) from None


#: The model parameters in the order the panel and `%%qwq?` show them.
MODEL_PARAMETERS: tuple[str, ...] = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "raw",
    "stream",
    "guided_json",
    "tools",
)
assert set(MODEL_PARAMETERS) == set(QwQSettings.class_trait_names(model_param=True))

#: The numeric ones: a flag each, a slider each, and what `--compare` can vary.
NUMERIC_PARAMETERS: tuple[str, ...] = tuple(
    name for name in MODEL_PARAMETERS if name not in ("raw", "stream", "guided_json", "tools")
)


publish(globals())
