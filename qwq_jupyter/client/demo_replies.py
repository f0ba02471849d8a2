"""The offline demo's replies to arithmetic, reviews, classic puzzles and a few set questions.

Each function returns `(reasoning, answer)`; the reasoning is in QwQ's voice (first person,
step by step, with checks and the odd backtrack), the answer follows from it.
"""

from __future__ import annotations

import re

from .demo_voice import Voice

__all__ = [
    "arithmetic",
    "bat_and_ball",
    "loop",
    "named",
    "river_crossing",
    "sentiment",
    "set_answer",
]

Pair = tuple[str, str]

_OPERATION = re.compile(
    r"(-?\d+)\s*(×|\*|x|X|times|multiplied by|\+|plus|−|-|minus)\s*(-?\d+)(?![\w.])"
)


def arithmetic(prompt: str, voice: Voice, history: str = "") -> Pair | None:
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


def _product(a: int, b: int, prompt: str, voice: Voice, history: str) -> Pair:
    product = a * b
    lowered = prompt.lower()
    steps = [
        voice.opener(f"I need to work out {a} × {b}"),
        voice.pick(
            "I could do the long multiplication, but splitting one number into tens and ones "
            "is easier to follow, and easier to check.",
            "Multiplying directly is error-prone in my head. Breaking it into friendlier pieces "
            "should be safer, and then I can check the result a different way.",
            "Let me think about which method is least likely to go wrong. Probably splitting "
            "into tens and ones, then adding the partial products.",
        ),
    ]
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
    return reasoning, answer


def _sum(a: int, b: int, voice: Voice, *, subtract: bool) -> Pair:
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
    return reasoning, f"{a} {sign} {b} = **{result}**"


_POSITIVE = (
    "love", "great", "perfect", "excellent", "quickly", "fast", "nice", "good", "happy",
    "exactly as described", "buy it again", "recommend", "amazing", "works well", "easy",
)  # fmt: skip
_NEGATIVE = (
    "stopped working", "waste", "broke", "crash", "never replied", "flimsy", "barely",
    "poor", "bad", "terrible", "refund", "slow", "disappoint", "awful", "doesn't work",
)  # fmt: skip
_CONTRAST = ("but", "although", "though", "however", "yet")


def sentiment(prompt: str, voice: Voice) -> Pair:
    """Positive, negative or mixed, from a small lexicon; the answer is the label and why."""
    review = prompt.split(":", 1)[1].strip() if ":" in prompt else prompt
    lowered = review.lower()
    good = [word for word in _POSITIVE if word in lowered]
    bad = [word for word in _NEGATIVE if word in lowered]
    contrast = [w for w in _CONTRAST if re.search(rf"\b{w}\b", lowered)]
    if (good and bad) or (contrast and (good or bad)):
        label = "mixed"
    elif bad:
        label = "negative"
    elif good:
        label = "positive"
    else:
        label = "mixed" if contrast else "neutral"
    quoted = ", ".join(f"“{w}”" for w in good) or "nothing clearly positive"
    steps = [
        voice.opener(f'I need to classify the sentiment of this review: "{review}"'),
        f"The options are positive, negative or mixed. Let me look for praise first: {quoted}.",
        f"Now complaints: {', '.join(f'“{w}”' for w in bad) or 'I don’t see any'}.",
    ]
    if contrast:
        steps.append(
            f"There's a “{contrast[0]}” in there, which usually turns the sentence: one part "
            "praises, the other complains."
        )
    if label == "mixed" and good and bad:
        steps.append(
            "So it has both. Could it still count as mostly one side? Hmm, no — neither part "
            "outweighs the other, so mixed fits best."
        )
    elif label != "mixed" and voice.chance(0.4):
        steps.append(
            f"{voice.check()} Is there any sarcasm that would flip it? Reading it again... "
            f"no, it reads straight. So {label}."
        )
    steps.append(f"{voice.check()} The review is {label}, I'm fairly sure. {voice.closer()}")
    reasons = {
        "positive": f"it praises the product ({quoted})",
        "negative": f"it only complains ({', '.join(f'“{w}”' for w in bad)})",
        "mixed": "it praises one thing and complains about another",
        "neutral": "it states facts without praise or complaint",
    }
    return voice.think(steps, voice.asides(1)), f"**{label.capitalize()}**: {reasons[label]}."


def bat_and_ball(voice: Voice) -> Pair:
    """The classic trap: a first answer of 10 cents, then "Wait, that's wrong", then 5 cents."""
    steps = [
        voice.opener(
            "a bat and a ball cost $1.10 together, and the bat costs $1.00 more "
            "than the ball; how much is the ball"
        ),
        "The obvious split is $1.00 and $0.10, so the ball costs 10 cents.",
        "Let me check it. If the ball is $0.10, the bat is $1.00 more, so $1.10. Together "
        "that's $1.10 + $0.10 = $1.20.",
        "Wait, that's wrong. The total has to be $1.10, not $1.20. The bat costs $1.00 *more "
        "than* the ball, not $1.00. I fell for the trap.",
        "Let me set it up properly. Ball = x. Bat = x + 1.00. Together: x + (x + 1.00) = 1.10, "
        "so 2x = 0.10, and x = 0.05.",
        f"{voice.check()} Ball $0.05, bat $1.05. The difference is $1.00, yes. The total is "
        "$1.10, yes. Both conditions hold.",
        *voice.asides(2),
        "So the ball costs 5 cents, not the 10 cents I first thought.",
    ]
    answer = (
        "The ball costs **5 cents** ($0.05), and the bat $1.05.\n\n"
        "(The quick answer, 10 cents, is wrong: then the bat would be $1.10 and the total $1.20.)"
    )
    return voice.think(steps), answer


_BANKS = {"left": "the left bank", "right": "the far bank"}


def river_crossing(voice: Voice) -> Pair:
    """Wolf, goat and cabbage: a long search with dead ends and backtracking."""
    steps = [
        voice.opener(
            "a farmer must get a wolf, a goat and a cabbage across a river; the boat "
            "holds him and one more; the wolf can't be left with the goat, nor the "
            "goat with the cabbage"
        ),
        "Let me list what can't be left alone: wolf + goat, and goat + cabbage. The wolf and "
        "the cabbage are fine together. So the goat is the problem piece.",
        "First trip. If I take the wolf, the goat eats the cabbage. If I take the cabbage, "
        "the wolf eats the goat. So the first trip has to be the goat. Left: wolf, cabbage. Fine.",
        "He comes back alone. Now the second trip: wolf or cabbage. Let me try the wolf.",
        "He drops the wolf on the far bank... but then the wolf is alone with the goat when he "
        "goes back. Hmm, no — that fails. Unless he doesn't leave the goat there.",
        "Wait, what if he takes the goat *back*? Nobody said things can only go forward. Let "
        "me try that: trip 2 takes the wolf over, and he brings the goat back with him.",
        "Now the left bank has goat and cabbage — but the farmer is there, so that's fine. "
        "Trip 3: leave the goat, take the cabbage across. Far bank: wolf, cabbage. Safe.",
        "Trip 4: he goes back alone. Trip 5: he takes the goat. Everyone is across.",
        f"{voice.check()} Let me walk through every state, with who's left alone each time:",
        "1. Goat over. Left alone: wolf + cabbage. OK.\n2. Back alone. Far bank: goat alone. OK."
        "\n3. Wolf over, goat back. Far bank: wolf alone. OK.\n4. Cabbage over. Left bank: goat "
        "alone. OK.\n5. Back alone. Far bank: wolf + cabbage. OK.\n6. Goat over. All across.",
    ]
    if voice.chance(0.5):
        steps.append(
            "Would starting with the cabbage on trip 2 instead of the wolf work too? By symmetry, "
            "yes: take the cabbage over, bring the goat back, take the wolf over, then the goat. "
            "Same length. So there are two solutions, both seven crossings."
        )
    steps += [
        "Could it be done in fewer crossings? Every trip across but the last needs a trip "
        "back, and three things need three trips over... plus the goat going back costs two "
        "more. Let me see if I can avoid that. Any trip 2 without bringing something back "
        "leaves the goat with the wolf or the cabbage. So no, seven is the minimum.",
        *voice.asides(3),
        voice.closer(),
    ]
    answer = (
        "Seven crossings; the trick is that the goat goes back once:\n\n"
        "1. Take the **goat** across.\n2. Return alone.\n3. Take the **wolf** across.\n"
        "4. Bring the **goat** back.\n5. Take the **cabbage** across.\n6. Return alone.\n"
        "7. Take the **goat** across.\n\n(Swapping the wolf and the cabbage works as well.)"
    )
    return voice.think(steps), answer


def loop(voice: Voice, budget: int) -> Pair:
    """Counting letters, then doubting the count, again and again, past `budget` tokens."""
    head = voice.opener('I have to count the letter "r" in "strawberry"')
    passage = (
        "Let me spell it out: s, t, r, a, w, b, e, r, r, y. The r's are at positions 3, 8 and "
        '9. So that\'s three r\'s. Wait, but "berry" has two r\'s and "straw" has one, and '
        "that also makes three. Hmm, but people often say two. Did I double count? Let me count "
        "again, carefully, letter by letter."
    )
    parts = [head]
    words = len(head.split())
    while words <= budget + 20:
        parts.append(passage)
        words += len(passage.split())
    return voice.think(parts), 'There are **3** r\'s in "strawberry".'


_NAMES = ("Peanut", "Nibbles", "Biscuit", "Hazel", "Pip", "Waffles", "Captain Whiskers",
          "Ziggy", "Pumpernickel", "Socrates")  # fmt: skip


def named(prompt: str, voice: Voice) -> Pair:
    """A name suggestion: safe names at low temperature, odder ones at high."""
    width = max(2, round(2 + voice.temperature * (len(_NAMES) - 2)))
    found = re.search(r"name for (?:our |my |a |the )?([^.?!]+)", prompt, re.I)
    subject = f"for the {found[1].strip()}" if found else "a suggestion"
    candidates = voice.random.sample(_NAMES[:width], min(3, width))
    choice = candidates[-1]
    steps = [
        voice.opener(f"the user wants a name: {subject}, one word only"),
        "Names for a pet in a classroom should be short, friendly, and easy for children to "
        "say and spell. Nothing that could be teased or misheard.",
        f"It says one word only, so no explanation in the answer. Let me brainstorm: "
        f"{', '.join(candidates)}.",
        f"{candidates[0]} is cute but maybe too common. "
        + (f"{candidates[1]}... hmm, not sure that fits. " if len(candidates) > 2 else ""),
        f"{choice} sounds friendly, and it's easy for children to say.",
    ]
    if " " in choice:
        steps.append(
            f"Wait, {choice} is two words. The user asked for one word only. Hmm — "
            f"let me just go with {choice.split()[-1]}."
        )
        choice = choice.split()[-1]
    steps += [*voice.asides(2), f"Okay: {choice}."]
    return voice.think(steps), choice


_SET_ANSWERS = (
    (
        ("odd", "even"),
        "why the sum of two odd numbers is always even",
        "An odd number is one more than an even number: 2a + 1 and 2b + 1. Their sum is "
        "2a + 2b + 2 = 2(a + b + 1), which is a multiple of 2, so it is **even**.",
    ),
    (
        ("reasoning model", "think before"),
        "why a reasoning model thinks before it answers",
        "A reasoning model writes out intermediate steps first because each step it writes "
        "becomes context for the next, so it can break a problem down, check itself and "
        "correct mistakes before committing to an answer.",
    ),
    (
        ("ten-year-old", "shortcut"),
        "how to explain the ×25 shortcut to a ten-year-old",
        "Think of money: 25 cents is a quarter, and 4 quarters make a dollar. So 36 quarters "
        "is 36 ÷ 4 = 9 dollars, which is 900 cents. That's why 36 × 25 = 900: divide by 4, "
        "then multiply by 100.",
    ),
)


def set_answer(prompt: str, voice: Voice) -> Pair | None:
    """One of a few questions the notebooks ask, answered properly."""
    lowered = prompt.lower()
    for keys, topic, answer in _SET_ANSWERS:
        if any(key in lowered for key in keys):
            steps = [
                voice.opener(f"the question is {topic}"),
                "Let me think about what the core idea is, and then how to say it simply.",
                f"Draft: {answer.replace('**', '')}",
                f"{voice.check()} Does the draft actually answer the question, and is it "
                "correct? I think so. Is it short enough? It's close to what was asked.",
                *voice.asides(3),
                voice.closer(),
            ]
            return voice.think(steps), answer
    return None
