"""The offline demo's replies about numbers and data: arithmetic, pandas code, `%qwq explain`.

Arithmetic is computed for real; cut short, it answers with a slip or an estimate. Columns and
dtypes come from the prompt itself: a `{@df}` summary ("  name: dtype, N null" lines) or a list
of names; a traceback's last line names the error, and `difflib` finds the name that was meant
among the names in the prompt.
"""

from __future__ import annotations

import difflib
import re

from .demo_voice import Script, Stage, Voice

__all__ = ["arithmetic", "columns_in", "data_reply", "explain_reply"]

_OPERATION = re.compile(
    r"(-?\d+)\s*(×|\*|x|X|times|multiplied by|\+|plus|−|-|minus)\s*(-?\d+)(?![\w.])"
)


def arithmetic(prompt: str, voice: Voice, history: str = "") -> Script | None:
    """A product, sum or difference in the prompt, computed for real."""
    match = _OPERATION.search(prompt)
    if match is None:
        return None
    a, op, b = int(match[1]), match[2], int(match[3])
    if op in ("+", "plus"):
        return _sum(a, b, voice, subtract=False)
    if op in ("−", "-", "minus"):
        return _sum(a, b, voice, subtract=True)
    return _product(a, b, prompt, voice, history)


def _method(voice: Voice) -> str:
    return voice.pick(
        "I could do the long multiplication, but splitting one number into tens and ones "
        "is easier to follow, and easier to check.",
        "Multiplying directly is error-prone in my head. Breaking it into friendlier pieces "
        "should be safer, and then I can check the result a different way.",
        "Let me think about which method is least likely to go wrong. Probably splitting "
        "into tens and ones, then adding the partial products.",
    )


def _product(a: int, b: int, prompt: str, voice: Voice, history: str) -> Script:
    product = a * b
    lowered = prompt.lower()
    # asked again (the order swapped, say), the earlier answer is in sight even with no thought
    known = re.search(rf"(?<![\d,]){product}(?!\d)", history)
    if _slippery(a, b) and not known and voice.slips(f"{min(a, b)} × {max(a, b)}"):
        return _slipped_product(a, b, voice)
    steps = [voice.opener(f"I need to work out {a} × {b}"), _method(voice)]
    big, small = (a, b) if abs(a) >= abs(b) else (b, a)
    tens, ones = divmod(abs(small), 10)
    if 25 in (abs(a), abs(b)) and "shortcut" in lowered + history.lower():
        other = b if abs(a) == 25 else a
        steps.append(
            f"There's a shortcut with 25: 25 is 100 divided by 4. So {other} × 25 is the same "
            f"as {other} × 100 ÷ 4. {other} × 100 = {other * 100}, and {other * 100} ÷ 4 = "
            f"{other * 25}."
        )
        if other % 4 == 0:
            steps.append(
                f"Or the other way round: divide first. {other} ÷ 4 = {other // 4}, then "
                f"× 100 gives {other // 4 * 100}. Same thing, and maybe easier in your head."
            )
        shortcut = (
            f"**Shortcut:** 25 = 100 ÷ 4, so multiply by 100 and divide by 4: "
            f"{other} × 100 = {other * 100}, and {other * 100} ÷ 4 = **{product}**."
        )
    else:
        shortcut = ""
    steps.append(
        f"Let me split {small} into {tens * 10} and {ones}. {big} × {tens * 10} = "
        f"{big * tens * 10}, and {big} × {ones} = {big * ones}."
    )
    if voice.chance(0.3) and ones > 1:
        wrong = big * ones + 10
        steps.append(
            f"Adding: {big * tens * 10} + {wrong} = {big * tens * 10 + wrong}. Hmm, no — "
            f"{big} × {ones} is {big * ones}, not {wrong}. I added a ten somewhere. Let me redo "
            f"that: {big * tens * 10} + {big * ones} = {product}."
        )
    else:
        steps.append(f"Adding them: {big * tens * 10} + {big * ones} = {product}.")
    checks = []
    for _ in range(2 + voice.extra(2)):
        way = voice.pick("round", "swap", "estimate", "digits")
        if way == "round":
            up = (abs(big) // 10 + 1) * 10
            checks.append(
                f"{voice.check()} Round {big} up to {up}: {up} × {small} = {up * small}, then "
                f"take away {up - big} × {small} = {(up - big) * small}: {up * small} − "
                f"{(up - big) * small} = {product}. Matches."
            )
        elif way == "swap":
            checks.append(
                f"{voice.check()} The order shouldn't matter: {small} × {big}. Splitting {big} "
                f"instead... it comes out to {product} again. Good."
            )
        elif way == "estimate":
            checks.append(
                f"{voice.check()} Rough size: about {round(big, -1)} × {round(small, -1)} = "
                f"{round(big, -1) * round(small, -1)}, so {product} is in the right range."
            )
        else:
            checks.append(
                f"{voice.check()} Last digits: {abs(a) % 10} × {abs(b) % 10} = "
                f"{abs(a) % 10 * (abs(b) % 10)}, which ends in {abs(product) % 10}, and so does "
                f"{product}. Consistent."
            )
    same = "same" in lowered or "commut" in lowered
    if same:
        checks.append(
            f"The question also asks if it's the same as before. Multiplication is commutative, "
            f"so {a} × {b} and {b} × {a} must be equal: both are {product}."
        )
    reasoning = voice.think(steps, checks, voice.asides(2), f"So {a} × {b} = {product}.")
    answer = f"{a} × {b} = **{product}**"
    if same:
        answer += (
            f"\n\nYes, it's the same: multiplication is commutative, so the order of the "
            f"factors doesn't change the product ({b} × {a} = {product} too)."
        )
    if shortcut:
        answer += "\n\n" + shortcut
    elif voice.chance(0.3):
        answer += (
            f"\n\n(Split {small} into {tens * 10} + {ones}: "
            f"{big * tens * 10} + {big * ones} = {product}.)"
        )
    stages = (((), answer),) if known else _cut_product(a, b, answer)
    return Script(reasoning, answer, stages, _rechecks(a, b))


def _slippery(a: int, b: int) -> bool:
    """A product mental arithmetic can slip on: two different two-digit factors, neither a
    multiple of 5 nor within 2 of a round ten (17 × 23, not 12 × 12, 19 × 21 or 48 × 25)."""
    return a != b and all(10 <= n <= 99 and 3 <= n % 10 <= 7 and n % 5 for n in (a, b))


def _slipped_product(a: int, b: int, voice: Voice) -> Script:
    """The sum of the partial products off by ten (a dropped or an extra carry), and checks
    that cannot catch it: the last digit and the rough size both still fit."""
    product = a * b
    big, small = (a, b) if a >= b else (b, a)
    tens, ones = divmod(small, 10)
    left, right = big * tens * 10, big * ones
    draw = voice.slip_draw(f"{min(a, b)} × {max(a, b)}") or 0.0
    wrong = product + (10 if int(draw * 10) % 2 else -10)  # an extra carry, or one dropped
    steps = [
        voice.opener(f"I need to work out {a} × {b}"),
        _method(voice),
        f"Let me split {small} into {tens * 10} and {ones}. {big} × {tens * 10} = {left}, and "
        f"{big} × {ones} = {right}.",
        f"Adding them: {left} + {right} = {wrong}.",
        f"Let me make sure the pieces are right, since that's where slips happen: {big} × "
        f"{tens} = {big * tens}, with a zero on the end, {left}. Yes. And {big} × {ones} = "
        f"{right}, yes.",
    ]
    ra, rb = round(big, -1), round(small, -1)
    checks = {
        "estimate": f"{voice.check()} Rough size: about {ra} × {rb} = {ra * rb}, so {wrong} "
        "is in the right range.",
        "digits": f"{voice.check()} Last digits: {big % 10} × {small % 10} = "
        f"{big % 10 * (small % 10)}, which ends in {product % 10}, and so does {wrong}. "
        "Consistent.",
    }
    first = voice.pick("estimate", "digits")
    order = [checks[first], *(c for k, c in checks.items() if k != first)]
    reasoning = voice.think(steps, order, voice.asides(2), f"So {a} × {b} = {wrong}.")
    answer = f"{a} × {b} = **{wrong}**"
    rechecks = (
        f"let me look at the last digit once more: {big % 10} × {small % 10} ends in "
        f"{product % 10}, and so does {wrong}. And {wrong} is close to {ra * rb}. Fine.",
        f"are the partial products right? {big} × {tens * 10} = {left} and {big} × {ones} = "
        f"{right}. Yes, both. So {wrong} stands.",
    )
    return Script(reasoning, answer, _cut_product(a, b, answer, wrong), rechecks)


def _nearest_ten(n: int) -> int:
    return round(abs(n), -1) * (-1 if n < 0 else 1)


def _cut_product(a: int, b: int, answer: str, reached: int | None = None) -> tuple[Stage, ...]:
    """The product once reached (`reached`, when the reasoning slipped to another); a slip
    adding the partial products; else an estimate."""
    product = a * b
    big, small = (a, b) if abs(a) >= abs(b) else (b, a)
    tens, ones = divmod(abs(small), 10)
    left, right = big * tens * 10, big * ones
    slip = (
        f"{a} × {b} = **{left + right + 10}**, I think ({left} + {right}, carried in my head; "
        f"I didn't get to check it)."
    )
    ra, rb = _nearest_ten(a), _nearest_ten(b)
    if min(abs(a), abs(b)) < 10:
        guess = f"{a} × {b} = **{product}**, I think."
    else:
        guess = (
            f"About **{ra * rb}**, I think: {a} × {b} is close to {ra} × {rb} = {ra * rb}. "
            "(That's a rough estimate; I didn't work it out exactly.)"
        )
    done = str(product if reached is None else reached)
    return (((done,), answer), ((f"{big} × {ones} = {right}",), slip), ((), guess))


def _rechecks(a: int, b: int) -> tuple[str, ...]:
    product = a * b
    big, small = max(abs(a), abs(b)), min(abs(a), abs(b))
    tens, ones = divmod(big, 10)
    ra, rb = _nearest_ten(a), _nearest_ten(b)
    checks = [
        f"let me look at the last digit: {abs(a) % 10} × {abs(b) % 10} = "
        f"{abs(a) % 10 * (abs(b) % 10)}, which ends in {abs(product) % 10}, and so does "
        f"{product}. And the size: about {ra} × {rb} = {ra * rb}, near enough. Fine."
    ]
    if tens and small and product > 0:
        left, right = small * tens * 10, small * ones
        checks += [
            f"is {product} really right? The other way round, splitting {big} instead: "
            f"{small} × {tens * 10} = {left} and {small} × {ones} = {right}, and {left} + "
            f"{right} = {product}. Same.",
            f"does it divide back? {product} ÷ {small}: {small} × {tens * 10} = {left}, "
            f"leaving {product - left}, which is {small} × {ones}. So {product} ÷ {small} = "
            f"{big} exactly. Yes.",
        ]
    return tuple(checks)


def _sum(a: int, b: int, voice: Voice, *, subtract: bool) -> Script:
    sign, result = ("−", a - b) if subtract else ("+", a + b)
    word = "difference" if subtract else "sum"
    steps = [voice.opener(f"I need the {word} {a} {sign} {b}")]
    hundreds = (b // 100) * 100
    rest = b - hundreds
    middle = a - hundreds if subtract else a + hundreds
    steps.append(
        f"Let me do it in two steps: first {sign} {hundreds} gives {middle}, then {sign} {rest} "
        f"gives {result}."
    )
    inverse = f"{result} + {b} = {a}" if subtract else f"{result} − {b} = {a}"
    checks = [f"{voice.check()} Going back: {inverse}. Yes."]
    checks += [f"{voice.check()} Column by column, it's {result} again."] * min(1, voice.extra(1))
    reasoning = voice.think(steps, checks, voice.asides(2), f"So the {word} is {result}.")
    answer = f"{a} {sign} {b} = **{result}**"
    hasty = f"{a} {sign} {b} = **{result}**, I think, though I haven't checked it."
    recheck = f"let me undo it: {inverse}. Yes, {result} is right."
    return Script(reasoning, answer, (((f"gives {result}",), answer), ((), hasty)), (recheck,))


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


def data_reply(prompt: str, voice: Voice) -> Script | None:
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
        return Script(voice.think(steps, voice.asides(2), voice.closer()), answer)
    if not numeric or not ordered:
        code = "df.describe(include='all')\n"
        answer = f"Start with an overview of every column:\n\n```python\n{code}```"
        return Script(voice.think(steps, voice.asides(2)), answer)
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
        return Script(voice.think(steps, voice.asides(2), voice.closer()), answer)
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
    return Script(voice.think(steps, voice.asides(2), voice.closer()), answer)


_ERROR_LINE = re.compile(r"^(\w+(?:Error|Exception|Warning)): ?(.*)$", re.M)


def explain_reply(prompt: str, voice: Voice) -> Script | None:
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
    return Script(voice.think(steps), answer)
