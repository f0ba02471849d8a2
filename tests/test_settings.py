"""Settings: QwQ's defaults, and every outer range refused with a message naming it."""

from __future__ import annotations

import pytest

from qwq_jupyter import ConfigurationError, QwQSettings
from qwq_jupyter.core.settings import MODEL_PARAMETERS

RANGES = {
    "max_tokens": (1, 24_000),
    "temperature": (0.0, 5.0),
    "top_p": (0.0, 2.0),
    "top_k": (1, 50),
    "seed": (1, 9_999_999_999),
    "repetition_penalty": (0.0, 2.0),
    # The outer bounds: OpenAI-compatible servers take -2 to 2, Workers AI narrows them to 0 to 2
    # where the request is prepared (tests/test_dialects.py).
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}


def test_defaults_follow_qwen_not_the_server() -> None:
    params = QwQSettings().model_parameters()
    assert params["temperature"] == 0.6
    assert params["top_p"] == 0.95
    assert params["top_k"] == 40
    assert params["max_tokens"] >= 8_000  # room to reason, unlike the server's 256
    assert "seed" not in params  # unset parameters are left to the server


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_range_is_enforced(name: str) -> None:
    lo, hi = RANGES[name]
    settings = QwQSettings()
    assert settings.override(**{name: lo}).trait_values()[name] == lo
    assert settings.override(**{name: hi}).trait_values()[name] == hi
    step = 1 if isinstance(lo, int) else 0.01
    for bad in (lo - step, hi + step):
        with pytest.raises(ConfigurationError) as info:
            settings.override(**{name: bad})
        message = str(info.value)
        expected = str(bad) if isinstance(bad, int) else f"{bad:g}"
        assert name in message and "from" in message and expected in message.replace(",", "")


@pytest.mark.parametrize("name", sorted(RANGES))
def test_wrong_types_are_refused(name: str) -> None:
    for bad in ("high", True, [1]):
        with pytest.raises(ConfigurationError, match=name):
            QwQSettings().override(**{name: bad})


def test_integer_parameters_refuse_fractions() -> None:
    with pytest.raises(ConfigurationError, match="top_k must be an integer"):
        QwQSettings().override(top_k=2.5)


def test_override_leaves_original_untouched() -> None:
    settings = QwQSettings()
    changed = settings.override(temperature=1.2, system_prompt="terse")
    assert (settings.temperature, changed.temperature) == (0.6, 1.2)
    assert changed.system_prompt == "terse"


def test_unknown_setting_and_bad_backend() -> None:
    with pytest.raises(ConfigurationError, match="unknown setting 'temprature'"):
        QwQSettings().override(temprature=1)
    with pytest.raises(ConfigurationError, match="backend must be one of workers-ai"):
        QwQSettings().override(backend="bedrock")


def test_reset_to_defaults() -> None:
    settings = QwQSettings()
    settings.temperature, settings.seed, settings.top_k = 1.5, 7, 3
    settings.reset_to_defaults()
    assert (settings.temperature, settings.seed, settings.top_k) == (0.6, None, 40)


def test_every_model_parameter_is_configurable() -> None:
    traits = QwQSettings.class_traits(model_param=True)
    assert set(traits) == set(MODEL_PARAMETERS)
    assert all(trait.metadata.get("config") for trait in traits.values())


def test_config_loader_sets_values() -> None:
    from traitlets.config import Config

    config = Config()
    config.QwQSettings.temperature = 0.3
    assert QwQSettings(config=config).temperature == 0.3


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        (["lookup"], r"tools\[0\] must be a function or a dict describing a tool"),
        ([int], r"tools\[0\]: int is a class"),
        ([{"description": "no name"}], r"tools\[0\]: a tool's description needs a 'name'"),
    ],
)
def test_tools_must_be_functions_or_describe_tools(tools, message) -> None:
    settings = QwQSettings()
    before = settings.tools
    with pytest.raises(ConfigurationError, match=message):
        settings.override(tools=tools)
    with pytest.raises(Exception, match=message):
        settings.tools = tools  # %config and the panel set the trait directly
    assert settings.tools == before  # unchanged


def test_both_tool_shapes_and_functions_are_accepted() -> None:
    workers = {"name": "f", "description": "d", "parameters": {}}
    openai = {"type": "function", "function": {"name": "g", "parameters": {}}}
    assert QwQSettings().override(tools=[workers, openai]).tools == [workers, openai]

    def lookup(key: str) -> str:
        """Look a key up."""
        return key

    settings = QwQSettings().override(tools={"find": lookup}, functions=[workers])
    assert settings.tools == {"find": lookup}  # as given: the function itself, not a copy
    assert [tool["name"] for tool in settings.model_parameters()["tools"]] == ["find", "f"]
    with pytest.raises(ConfigurationError, match="two tools are named 'f'"):
        QwQSettings().override(tools=[workers], functions=[workers]).model_parameters()
