"""The offline demo's replies about data and errors: pandas code and `%qwq explain`.

Columns and dtypes come from the prompt itself: a `{@df}` summary ("  name: dtype, N null"
lines) or a list of names; a traceback's last line names the error, and `difflib` finds the
name that was meant among the names in the prompt.
"""

from __future__ import annotations

import difflib
import re

from .demo_voice import Voice

__all__ = ["columns_in", "data_reply", "explain_reply"]

Pair = tuple[str, str]

_SUMMARY_LINE = re.compile(r"^\s+([A-Za-z_]\w*): ([\w\[\], ]+?), (\d+) null", re.M)
_NAME_LIST = re.compile(r"\[((?:\s*'[^']*'\s*,?)+)\]")
_NUMERIC = ("int", "float", "uint", "number", "decimal")


def columns_in(prompt: str) -> dict[str, str]:
    """Column names and dtypes ("" when unknown) named by summaries or lists in the prompt."""
    columns: dict[str, str] = {}
    for name, dtype, _ in _SUMMARY_LINE.findall(prompt):
        columns.setdefault(name, dtype)
    for group in _NAME_LIST.findall(prompt):
        for name in re.findall(r"'([^']*)'", group):
            columns.setdefault(name, "")
    return columns


_HEADERS = ("pandas ", "columns (dtype", "first rows:", "numeric summary:", "index:")


def _own(line: str) -> bool:
    """Whether a line of the prompt is the asker's, not part of a `{@...}` summary."""
    return not (line[:1].isspace() or "  " in line or line.startswith(_HEADERS))


def _numeric(name: str, dtype: str) -> bool:
    if dtype:
        return dtype.startswith(_NUMERIC)
    return any(w in name.lower() for w in ("revenue", "units", "price", "amount", "count",
                                            "sales", "total", "cost", "value", "qty"))  # fmt: skip


def _mentioned(name: str, text: str) -> int:
    """Where `name` (or its plural) first appears in `text`, or -1."""
    found = re.search(rf"\b{re.escape(name.lower())}s?\b", text)
    return found.start() if found else -1


def data_reply(prompt: str, voice: Voice) -> Pair | None:
    """Pandas code on the prompt's own columns; None when the prompt names no columns."""
    columns = columns_in(prompt)
    if not columns:
        return None
    lowered = prompt.lower()
    # the asker's own words: the prompt without the summaries and lists it carries
    words = _NAME_LIST.sub("", "\n".join(line for line in lowered.splitlines() if _own(line)))
    numeric = [c for c, t in columns.items() if _numeric(c, t)]
    categorical = [c for c in columns if c not in numeric]
    ordered = sorted(categorical, key=lambda c: (_mentioned(c, words) < 0, _mentioned(c, words)))
    steps = [
        voice.opener("the user wants pandas code for their DataFrame `df`"),
        "From what they pasted, the columns are: "
        + ", ".join(f"{c} ({t or 'type not shown'})" for c, t in columns.items())
        + ".",
        f"The numeric ones are {', '.join(numeric) or 'none, it seems'}; "
        f"the ones to group by are {', '.join(categorical) or 'none, it seems'}.",
    ]
    nulls = [name for name, _, count in _SUMMARY_LINE.findall(prompt) if count != "0"]
    if any(w in words for w in ("fill", "drop", "missing", "gaps", "nan")) and nulls:
        column = nulls[0]
        group = ordered[0] if ordered else None
        steps += [
            f"They ask about the missing values in {column}. Dropping the rows throws away the "
            f"other columns too; filling with the overall mean would blur the differences "
            f"between groups.",
            f"Hmm, what about filling each gap with its own {group}'s mean? That keeps the "
            f"comparison fair and keeps every row."
            if group
            else "Filling keeps every row.",
            f"{voice.check()} With only a couple of gaps, either choice moves the group means a "
            f"little; the key thing is to say which one was used.",
        ]
        fill = (
            f'df["{column}"] = df["{column}"].fillna('
            f'df.groupby("{group}")["{column}"].transform("mean"))'
            if group
            else f'df["{column}"] = df["{column}"].fillna(df["{column}"].mean())'
        )
        code = f'print(df["{column}"].isna().sum(), "missing")\n{fill}\n'
        code += f'df.groupby("{group}")["{column}"].mean()\n' if group else "df.describe()\n"
        answer = (
            f"Fill them rather than drop them: with few rows, dropping loses the other columns "
            f"too. Filling each gap with its group's mean keeps the comparison fair:\n\n"
            f"```python\n{code}```\n\nSay in your write-up that {column} was filled this way; "
            f"`df.dropna(subset=['{column}'])` is the alternative if you prefer to leave gaps out."
        )
        return voice.think(steps, voice.asides(2), voice.closer()), answer
    if not numeric or not ordered:
        code = "df.describe(include='all')\n"
        answer = f"Start with an overview of every column:\n\n```python\n{code}```"
        return voice.think(steps, voice.asides(2)), answer
    mentioned_numeric = sorted(
        numeric, key=lambda c: (_mentioned(c, words) < 0, _mentioned(c, words))
    )
    value = mentioned_numeric[0] if _mentioned(mentioned_numeric[0], words) >= 0 else numeric[-1]
    group = ordered[0]
    if any(w in words for w in ("plot", "chart", "graph", "visual")):
        per = re.search(r"(?:one line |a line |line )?per (\w+)", words)
        series = next((c for c in ordered if per and _mentioned(c, per[1]) >= 0), None)
        if series and series != group:
            steps += [
                f"They want {value} by {group}, with one line per {series}. That's a pivot: "
                f"{group} on the index, one column per {series}, and the sum of {value} in each.",
                f"Wait — if {value} has missing values, sum() treats them as 0. For a plot that "
                f"is acceptable, but I'll mention it.",
            ]
            code = (
                f'table = df.pivot_table(index="{group}", columns="{series}", '
                f'values="{value}", aggfunc="sum")\n'
                f'table.plot(marker="o", ylabel="{value}", title="{value} by {group}")\n'
            )
        else:
            steps.append(f"They want a plot of {value} by {group}: group, sum, bar chart.")
            code = f'df.groupby("{group}")["{value}"].sum().plot(kind="bar", ylabel="{value}")\n'
        steps += [f"{voice.check()} Every column name in the code is one of theirs. Good."]
        answer = f"```python\n{code}```\n\nEach {group} gets one point per line."
        if "pivot" not in code:
            answer = f"```python\n{code}```\n\nOne bar per {group}, its height the total {value}."
        return voice.think(steps, voice.asides(2), voice.closer()), answer
    values = ", ".join(f'"{c}"' for c in numeric)
    steps += [
        f"To compare {group} values, grouping by {group} and taking the mean of "
        f"{', '.join(numeric)} is the simplest thing that shows the differences.",
        f"Mean or sum? Hmm. Sum would punish a {group} with missing values, since NaN counts as "
        f"nothing. Mean skips NaN, so mean is fairer here.",
        f"{voice.check()} groupby on {group}, select [{values}], .mean(), round to one decimal. "
        f"All names match the summary.",
    ]
    code = f'df.groupby("{group}")[[{values}]].mean().round(1)\n'
    answer = (
        f"```python\n{code}```\n\nLook at which {group} stands apart in {value}, and whether "
        f"{' and '.join(numeric[:2])} move together (a gap in one but not the other is a hint)."
    )
    return voice.think(steps, voice.asides(2), voice.closer()), answer


_ERROR_LINE = re.compile(r"^(\w+(?:Error|Exception|Warning)): ?(.*)$", re.M)


def explain_reply(prompt: str, voice: Voice) -> Pair | None:
    """The cause named from the traceback's last line, with a fix; None if there is none."""
    errors = _ERROR_LINE.findall(prompt)
    if not errors:
        return None
    kind, message = errors[-1]
    cell = re.search(r"```python\n(.*?)\n```", prompt, re.S)
    code = cell[1] if cell else ""
    names = set(re.findall(r"[A-Za-z_]\w*", prompt))
    steps = [
        voice.opener("there's a Python error to explain"),
        f"The last line of the traceback is the important one: `{kind}: {message}`.",
    ]
    wrong = re.search(r"['\"]([^'\"]+)['\"]", message)
    cause, fix = "", code
    if kind in ("KeyError", "NameError", "AttributeError") and wrong:
        quoted = wrong[1] if kind != "AttributeError" else re.findall(r"'([^']+)'", message)[-1]
        bad = (re.findall(r"[A-Za-z_]\w*", quoted) or [quoted])[-1]
        guesses = difflib.get_close_matches(bad, sorted(names - {bad}), n=1, cutoff=0.75)
        what = {"KeyError": "key (here a column)", "NameError": "variable",
                "AttributeError": "attribute"}[kind]  # fmt: skip
        steps.append(f"So the {what} `{bad}` doesn't exist. Why? Maybe a typo.")
        if guesses:
            good = guesses[0]
            steps += [
                f"Looking at the names around it, there's `{good}`. `{bad}` vs `{good}`: "
                f"that's one small edit apart. That must be it.",
                f"{voice.check()} Is `{good}` really defined? It appears in the code or data "
                f"shown, yes. So the fix is to spell it `{good}`.",
            ]
            cause = f"the name is `{good}`, not `{bad}`"
            if kind == "KeyError":
                cause = f"the column is called `{good}`, not `{bad}`"
            fix = code.replace(bad, good)
        else:
            steps.append("I don't see a similar name anywhere, so it was never defined.")
            cause = f"`{bad}` was never defined, or the cell defining it has not run"
    elif kind == "ZeroDivisionError":
        steps.append("Something is divided by zero. Where can the denominator become 0?")
        cause = "a denominator is zero (an empty count, or a zero value in the data)"
        fix = "# check the denominator before dividing\nresult = a / b if b else float('nan')"
    elif kind == "TypeError":
        steps.append(
            "A TypeError means an operation got a type it can't handle. Hmm, the message says "
            "which types; often a number arrives as a string, or None sneaks in."
        )
        cause = f"an operation got the wrong type of value ({message})"
        fix = "# convert first, e.g. int(x), float(x), or pd.to_numeric(df['col'])"
    else:
        cause = f"{message or kind}"
    steps += [*voice.asides(2), f"So: {cause}. {voice.closer()}"]
    answer = (
        f"The traceback ends with `{kind}: {message}`: {cause}.\n\n"
        f"Fix:\n\n```python\n{fix.strip() or '# see the line the traceback points to'}\n```"
    )
    return voice.think(steps), answer
