"""The parameter panel: ipywidgets bound both ways to the one `QwQSettings` object.

ipywidgets are traitlets objects too, so `traitlets.link` ties a slider to a setting: moving the
slider changes the setting the next `%%qwq` reads, and `%config` moves the slider. Parameters
that may be unset (seed, penalties) get a checkbox beside their control: unticked means "leave
it to the server".
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from traitlets import Enum, Int, link

from ..core.settings import BACKENDS, NUMERIC_PARAMETERS, QwQSettings, parameter_range
from ..session.session import Session

__all__ = ["ParameterPanel"]

_STEPS = {"temperature": 0.05, "top_p": 0.01}
_STYLE = {"description_width": "140px"}
_WIDE = {"width": "460px"}  # room for a slider track long enough to set 0.05 steps by hand


class ParameterPanel:
    """`%qwq panel`: every parameter, with the schema's ranges."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.settings: QwQSettings = session.settings
        self.controls: dict[str, widgets.Widget] = {}
        self._links: list[Any] = []
        rows = [self._parameter(name) for name in NUMERIC_PARAMETERS]
        self.size = widgets.HTML()
        self._refresh_size()
        session.listeners.append(self._refresh_size)
        reset = widgets.Button(
            description="Reset to QwQ defaults", icon="undo", layout={"width": "auto"}
        )
        reset.on_click(lambda _button: self._reset())
        self._hold_to_policy(session)
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>QwQ parameters</b> (the same settings as %config and flags)"),
                *rows,
                widgets.HBox(
                    [
                        self._toggle("show_reasoning", "Show reasoning"),
                        self._toggle("stream", "Stream tokens"),
                        self._toggle("raw", "Raw chat-template prompt"),
                        self._toggle("background", "Run in background"),
                        self._toggle("anatomy", "Anatomy in the footer"),
                    ]
                ),
                widgets.HTML("<b>Steering the thinking</b> (budget forcing, loops, cost)"),
                *[self._parameter(name) for name in ("think_budget", "think_min", "max_cost")],
                widgets.HBox(
                    [self._choice(name) for name in ("on_loop", "on_budget", "interrupt")]
                ),
                widgets.HTML("<b>Tools</b> (functions given with --tools run when QwQ calls them)"),
                self._parameter("max_tool_rounds"),
                self._parameter("tool_result_chars"),
                self._toggle("confirm_tools", "Ask before each tool call"),
                self._text("system_prompt", "System prompt", widgets.Textarea),
                self._dropdown("backend", "Backend", BACKENDS),
                self._text("model", "Model", widgets.Text),
                self._text("base_url", "Base URL", widgets.Text),
                reset,
                self.size,
            ]
        )

    def _reset(self) -> None:
        """QwQ's defaults, except where the class's policy holds a value."""
        policy = self._session.policy
        self.settings.lock(None)
        self.settings.reset_to_defaults()
        if policy is not None:
            policy.apply(self.settings)

    def _hold_to_policy(self, session: Session) -> None:
        """Locked settings are shown disabled; a held range becomes the slider's range."""
        policy = session.policy
        if policy is None:
            return
        for name in policy.locked:
            for key in (name, f"{name}:set"):
                if key in self.controls:
                    self.controls[key].disabled = True
        for name, (low, high) in policy.ranges.items():
            control = self.controls.get(name)
            if control is not None and hasattr(control, "min"):
                control.min, control.max = low, high

    def _parameter(self, name: str) -> widgets.Widget:
        trait = self.settings.traits()[name]
        integer = isinstance(trait, Int)
        low, high = parameter_range(name)
        if name == "seed":
            control: widgets.Widget = widgets.BoundedIntText(
                value=self.settings.seed or 1, min=low, max=high
            )
        elif name == "max_cost":
            control = widgets.BoundedFloatText(value=0.01, min=low, max=high, step=0.001)
        else:
            cls = widgets.IntSlider if integer else widgets.FloatSlider
            step = 1 if integer else _STEPS.get(name, 0.01)
            control = cls(min=low, max=high, step=step, continuous_update=False)
        control.description = name
        control.style = _STYLE
        control.layout = widgets.Layout(**_WIDE)
        self.controls[name] = control
        if trait.allow_none:
            return self._optional(name, control)
        self._links.append(link((self.settings, name), (control, "value")))
        return control

    def _optional(self, name: str, control: widgets.Widget) -> widgets.Widget:
        """A control plus a "set" checkbox; the setting is None while unticked."""
        enabled = widgets.Checkbox(description="set", indent=False, layout={"width": "60px"})
        self.controls[f"{name}:set"] = enabled

        def from_settings(_change: Any = None) -> None:
            value = getattr(self.settings, name)
            enabled.value = value is not None
            control.disabled = value is None
            if value is not None:
                control.value = value

        def to_settings(_change: Any = None) -> None:
            setattr(self.settings, name, control.value if enabled.value else None)

        from_settings()
        self.settings.observe(from_settings, name)
        enabled.observe(to_settings, "value")

        def control_moved(_change: Any) -> None:
            if enabled.value:
                to_settings()

        control.observe(control_moved, "value")
        return widgets.HBox([control, enabled])

    def _toggle(self, name: str, label: str) -> widgets.Widget:
        box = widgets.Checkbox(description=label, indent=False, layout={"width": "auto"})
        self._links.append(link((self.settings, name), (box, "value")))
        self.controls[name] = box
        return box

    def _text(self, name: str, label: str, cls: type[widgets.Widget]) -> widgets.Widget:
        box = cls(description=label, style=_STYLE, layout=_WIDE, continuous_update=False)
        self._links.append(link((self.settings, name), (box, "value")))
        self.controls[name] = box
        return box

    def _choice(self, name: str) -> widgets.Widget:
        """A narrow dropdown of an Enum setting, labelled with its name."""
        trait = QwQSettings.class_traits()[name]
        assert isinstance(trait, Enum), f"{name} is not a choice"
        values = tuple(trait.values or ())
        return self._dropdown(name, name, values, {"width": "250px"})

    def _dropdown(
        self, name: str, label: str, options: tuple[str, ...], layout: Any = _WIDE
    ) -> widgets.Widget:
        box = widgets.Dropdown(options=options, description=label, style=_STYLE, layout=layout)
        self._links.append(link((self.settings, name), (box, "value")))
        self.controls[name] = box
        return box

    def _refresh_size(self) -> None:
        conversation = self._session.conversation()
        tokens = self._session.conversation_tokens()
        window = self.settings.context_window
        from ..render.html import escape
        from ..render.render import plural

        # ipywidgets.HTML sets innerHTML as is: the name (from a loaded file) is escaped.
        self.size.value = (
            f"Conversation <code>{escape(conversation.name)}</code>: "
            f"{plural(len(conversation.turns), 'turn')}, ≈{tokens:,} of {window:,} tokens"
        )
