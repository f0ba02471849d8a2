"""The offline demo's classic puzzles: a trap, two long searches, and a loop.

Each function returns a `Script`: the reasoning in QwQ's voice (first person, step by step,
with checks and backtracking), the answer that follows from it, the answers of a model whose
thinking was cut short (from a hasty one to the full one, by how far the thinking got) and a
few re-checks to follow "Wait,". The bat and ball is short; the river crossing and the Monty
Hall problem think for over a thousand tokens; the strawberry count loops.
"""

from __future__ import annotations

from .demo_voice import Script, Voice

__all__ = ["bat_and_ball", "loop", "monty_hall", "river_crossing"]


_BAT_QUESTION = (
    "a bat and a ball cost $1.10 together, and the bat costs $1.00 more than the ball; how "
    "much is the ball"
)


def bat_and_ball(voice: Voice) -> Script:
    """The classic trap: a first answer of 10 cents, then "Wait, that's wrong", then 5 cents.

    With some seeds (`Voice.slips`) the first answer is never re-checked against "more than".
    """
    if voice.slips("bat and ball"):
        return _bat_and_ball_trapped(voice)
    steps = [
        voice.opener(_BAT_QUESTION),
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
    hasty = "The ball costs **$0.10** (10 cents), and the bat $1.00."
    rechecks = (
        "does $0.05 really work? The bat is $1.00 more: $1.05. Together: $1.05 + $0.05 = "
        "$1.10. And the difference is exactly $1.00. Yes, both conditions hold.",
        "let me try 10 cents once more, to be sure it fails. Bat $1.10, total $1.20: 10 cents "
        "too much. Taking the same amount off both prices keeps the difference at $1.00, so "
        "each loses 5 cents. The ball is 5 cents. Same answer.",
    )
    return Script(voice.think(steps), answer, ((("0.05",), answer), ((), hasty)), rechecks)


def _bat_and_ball_trapped(voice: Voice) -> Script:
    """The tempting 10 cents, "checked" against the total only: the bat read as $1.00."""
    steps = [
        voice.opener(_BAT_QUESTION),
        "The obvious split is $1.00 and $0.10, so the ball costs 10 cents.",
        f"{voice.check()} Ball $0.10, bat $1.00. Together that's $1.00 + $0.10 = $1.10, "
        "which is exactly the total given. Yes.",
        "And the second condition: the bat is the dollar, and the ball is what's left over "
        "after the dollar, ten cents. So the bat is the $1.00 part. That fits too.",
        "Is there a catch? It's a short question with round numbers, and $1.10 splits "
        "naturally into a dollar and ten cents. I don't see anything hidden.",
        *voice.asides(2),
        "So the ball costs 10 cents, and the bat a dollar.",
    ]
    answer = "The ball costs **10 cents** ($0.10), and the bat $1.00."
    rechecks = (
        "does $0.10 fit the total? $1.00 + $0.10 = $1.10. Yes, that's the total given, so "
        "10 cents it is.",
        "is it really the bat that costs the dollar? The bat is the expensive one, and $1.10 "
        "less the ball's 10 cents leaves $1.00 for it. Same answer.",
    )
    return Script(voice.think(steps), answer, (((), answer),), rechecks)


def river_crossing(voice: Voice) -> Script:
    """Wolf, goat and cabbage: a long search with a dead end, a backtrack and a proof."""
    steps = [
        voice.opener(
            "a farmer must get a wolf, a goat and a cabbage across a river; the boat "
            "holds him and one more; the wolf can't be left with the goat, nor the "
            "goat with the cabbage"
        ),
        "Let me get the rules straight before I try anything. Only the farmer can row, so he "
        "is in the boat on every crossing. The boat takes him plus at most one passenger. The "
        "danger is only when he is away: on a bank without him, the wolf eats the goat and the "
        "goat eats the cabbage. The wolf doesn't eat cabbage, so those two are safe together. "
        "So the goat is the problem piece: it clashes with both of the others, and they don't "
        "clash with each other.",
        "I'll write a state as left bank | far bank, with F for the farmer and W, G, C for the "
        "others. Start: F W G C | (empty). Goal: (empty) | F W G C. After each crossing, the "
        "bank to check is the one he just left, because the bank he lands on has him on it.",
        "First crossing. He has four choices: go alone, or take the wolf, the goat or the "
        "cabbage.\n- Alone: he leaves W G C. The wolf eats the goat. No.\n- Wolf: he leaves "
        "G C. The goat eats the cabbage. No.\n- Cabbage: he leaves W G. The wolf eats the "
        "goat. No.\n- Goat: he leaves W C. Wolf and cabbage are fine together. Yes.\nSo the "
        "first move is forced: the goat goes over. State: W C | F G.",
        "Second crossing, coming back. He can return alone or with the goat. Bringing the goat "
        "straight back just undoes the first trip, so he returns alone. The goat waits alone "
        "on the far bank, which is fine. State: F W C | G.",
        "Third crossing. He has to take something, or the trip is pointless: the wolf or the "
        "cabbage. Let me try the wolf. He rows the wolf over. The cabbage stays alone on the "
        "left, fine. State: C | F W G. So far so good.",
        "Fourth crossing, back. If he goes back alone, the wolf and the goat are together on "
        "the far bank without him, and the wolf eats the goat. That fails.",
        "Let me try the cabbage on the third crossing instead. From F W C | G he takes the "
        "cabbage: W | F G C. The wolf is alone on the left, fine. But then he goes back alone "
        "and leaves the goat with the cabbage. The goat eats the cabbage. That fails too.",
        "Hmm. So both choices for the third trip lead to a disaster on the fourth. Did I go "
        "wrong earlier? The first trip was forced. The second was the only one that made "
        "progress. The third has only those two options. It looks like a dead end, which "
        "can't be right: the puzzle is supposed to have a solution.",
        "Wait. I assumed every return trip is empty. Nothing in the rules says that: the boat "
        "can carry a passenger in either direction. What if he brings something back on the "
        "fourth crossing?",
        "Back to the state after taking the wolf over: C | F W G. He can't leave the wolf and "
        "the goat together, so one of them has to come back with him. Bringing the wolf back "
        "undoes the third trip. So he brings the goat back. The wolf stays alone on the far "
        "bank, fine, and the goat lands next to the cabbage, but the farmer is there too, so "
        "nothing happens. State: F G C | W.",
        "Fifth crossing. On the left he has the goat and the cabbage. Taking the goat over "
        "again would put it with the wolf, and he'd have to bring it back again: going in "
        "circles. So he takes the cabbage. The goat stays alone on the left, fine. On the far "
        "bank the wolf and the cabbage don't clash. State: G | F W C.",
        "Sixth crossing: he goes back alone. The wolf and the cabbage wait together on the far "
        "bank, fine. State: F G | W C.",
        "Seventh crossing: he takes the goat over. State: (empty) | F W G C. Everyone is "
        "across, and nothing got eaten.",
        f"{voice.check()} Every crossing, and what is left behind without the farmer:\n"
        "1. Goat over. Left behind: wolf + cabbage. OK.\n2. Back alone. Left behind on the "
        "far bank: goat. OK.\n3. Wolf over. Left behind: cabbage. OK.\n4. Goat back. Left "
        "behind on the far bank: wolf. OK.\n5. Cabbage over. Left behind: goat. OK.\n6. Back "
        "alone. Left behind on the far bank: wolf + cabbage. OK.\n7. Goat over. Nobody left "
        "behind. Done.",
        "And nothing can happen mid-river that I haven't counted: during each crossing the "
        "bank he left holds exactly the group I checked, and the passenger is in the boat with "
        "him. So every moment is covered, not just the landings.",
        "What about the cabbage on the third crossing, with the goat brought back after it? "
        "The wolf and the cabbage play the same role, each clashing only with the goat, so the "
        "mirror image should work: goat over, back alone, cabbage over, goat back, wolf over, "
        "back alone, goat over. The risky moments: with the cabbage over, the wolf is alone on "
        "the left; with the goat back, the cabbage is alone on the far bank; with the wolf "
        "over, the goat is alone on the left. All fine. So there are two solutions, mirror "
        "images of each other.",
        "Could it be done in fewer than seven crossings? He ends on the far bank, so the "
        "number of crossings is odd. Each crossing over carries at most one of the three, so "
        "he needs at least three crossings over, and with returns in between that's at least "
        "five. Five would mean three crossings over, one passenger each, and two empty "
        "returns: nothing ever brought back. But with empty returns only, I showed the fourth "
        "crossing always leaves the goat with the wolf or the cabbage. So five is impossible, "
        "and seven is the minimum.",
        "Does it have to be the goat that comes back, though? On the fourth crossing the far "
        "bank holds the goat and one other. Bringing the other one back undoes the third trip. "
        "So the goat is the only useful thing to bring back, and it crosses three times: "
        "over, back, and over again.",
        "One more look at how I read the puzzle: the boat holds him and one of them, so never "
        "two at once, and 'left alone' means without the farmer. When he is on the same bank, "
        "nothing gets eaten. I've used exactly those rules and no others.",
        "The pattern is worth noticing: the goat is the only one in conflict with both of the "
        "others, so it goes first, comes back once in the middle, and goes last. The other "
        "two just need a turn each.",
        *voice.asides(3),
        voice.closer(),
    ]
    answer = (
        "Seven crossings; the trick is that the goat goes back once:\n\n"
        "1. Take the **goat** across.\n2. Return alone.\n3. Take the **wolf** across.\n"
        "4. Bring the **goat** back.\n5. Take the **cabbage** across.\n6. Return alone.\n"
        "7. Take the **goat** across.\n\n(Swapping the wolf and the cabbage works as well.)"
    )
    stuck = (
        "Take the **goat** across first: it's the only one that can't be left with either of "
        "the others. Then come back and take the wolf or the cabbage... but whichever goes "
        "next is then left with the goat on the far bank. I haven't found a way around that."
    )
    hasty = (
        "1. Take the **goat** across.\n2. Come back and take the **wolf** across.\n"
        "3. Come back and take the **cabbage** across.\n\nThat gets everyone over."
    )
    rechecks = (
        "did I break a rule anywhere? The boat never carried more than one passenger, the "
        "farmer rowed every time, and after each crossing I checked the bank he had left. The "
        "wolf met the goat only with the farmer there. Fine.",
        "could the cabbage go first instead of the goat? No: the wolf would be left with the "
        "goat. And the wolf first leaves the goat with the cabbage. So the goat first is "
        "forced, and the rest follows as I had it.",
    )
    stages = ((("goat back",), answer), (("dead end",), stuck), ((), hasty))
    return Script(voice.think(steps), answer, stages, rechecks)


_MONTY_QUESTION = (
    "there are three doors, a car behind one and goats behind the other two; I pick a door, "
    "the host opens another to show a goat, and offers me a switch"
)
_MONTY_SETUP = (
    "Let me fix the details. I pick door 1. The host, who knows where the car is, opens one of "
    "the other two doors, and it's always a goat: say he opens door 3. Now he offers me door 2 "
    "instead. The question is whether switching improves my chances."
)
_MONTY_INSTINCT = (
    "My first instinct: two doors are left, the car is behind one of them, so it's 50/50. "
    "Nothing seems to have changed about my door, so switching or staying makes no "
    "difference. That's what most people answer."
)
#: What a cut thinking answers before it has counted anything: the 50/50 of first sight.
_MONTY_HASTY = (
    "It doesn't matter: two doors are left and the car is behind one of them, so it's "
    "**50/50**. Stay or switch, your chances are the same."
)


def monty_hall(voice: Voice) -> Script:
    """Three doors, a car and two goats: 50/50 at first sight, then 2/3, checked four ways.

    With some seeds (`Voice.slips`) the count of cases forgets that the host never opens the
    player's door, and every check after it repeats the slip: 1/2, "it doesn't matter".
    """
    if voice.slips("monty hall"):
        return _monty_hall_slipped(voice)
    steps = [
        voice.opener(_MONTY_QUESTION),
        _MONTY_SETUP,
        _MONTY_INSTINCT,
        "Hmm, but I should be careful. The host didn't open a door at random. He knows where "
        "the car is, he never opens my door, and he never reveals the car. So his choice "
        "carries information, and it's not obvious that it treats my door and the other "
        "closed door the same way. The 50/50 instinct assumes they're symmetric. Let me not "
        "trust it; let me count the cases.",
        "The car is in one of three places, each with probability 1/3, and I picked door 1.\n"
        "- Car behind door 1: the host can open door 2 or door 3, both goats. If I switch, I "
        "lose.\n- Car behind door 2: he can't open door 2 (the car) or door 1 (mine), so he "
        "must open door 3. If I switch, I win.\n- Car behind door 3: he must open door 2. If I "
        "switch, I win.",
        "So switching wins in two of the three equally likely cases: probability 2/3. Staying "
        "wins only when my first pick was right: 1/3. That's not 50/50 at all.",
        f"{voice.check()} The question has him open door 3 specifically, and I counted a case "
        "where he opened door 2. Does seeing door 3 change anything? Let me do it properly, "
        "with conditional probability.",
        "I need a rule for what he does when he has a choice, that is, when the car is behind "
        "my door. The natural assumption: either goat door, with probability 1/2 each. Then:\n"
        "- P(opens 3 | car 1) = 1/2\n- P(opens 3 | car 2) = 1\n- P(opens 3 | car 3) = 0, since "
        "he never shows the car.",
        "Multiply by the prior 1/3: the joint probabilities are 1/6, 1/3 and 0. They add up to "
        "P(opens 3) = 1/6 + 1/3 = 1/2. Now divide: P(car 1 | opens 3) = (1/6) / (1/2) = 1/3, "
        "and P(car 2 | opens 3) = (1/3) / (1/2) = 2/3.",
        "Same result: given that he opened door 3, switching to door 2 wins with probability "
        "2/3. The posteriors add up to 1/3 + 2/3 = 1, as they must, and door 3 has 0. Good.",
        "Another way to see it: list every (car, door opened) outcome with its probability. "
        "(car 1, opens 2): 1/6. (car 1, opens 3): 1/6. (car 2, opens 3): 1/3. (car 3, opens "
        "2): 1/3. They add up to 1. With door 3 open, only (car 1, opens 3) and (car 2, opens "
        "3) are left, and the second is twice as likely as the first. Odds of 2 to 1 for door "
        "2: that's 2/3 again.",
        "The result is surprising enough that I want a check with no formulas. Imagine 100 "
        "doors. I pick one. The host, who knows, opens 98 of the others, all goats, and leaves "
        "one closed. Would I switch? Obviously: my first pick had a 1 in 100 chance, and the "
        "host carefully avoided the car in everything he opened. The door he left closed "
        "holds the other 99/100. Three doors is the same thing, smaller: my pick 1/3, the rest "
        "2/3, squeezed into one door.",
        "And a frequency check: play 300 games, always picking door 1. The car is behind door "
        "1 in about 100 of them, and staying wins those 100. In the other 200 the host has to "
        "open the only other goat door, and switching wins all 200. About 200 wins for "
        "switching against 100 for staying.",
        "So where does the 50/50 instinct go wrong? It treats the two closed doors alike, but "
        "they got there differently. My door was picked before the host acted, and he was "
        "never allowed to open it, so his move tells me nothing new about it: its chance stays "
        "1/3. The other closed door is the one he chose to leave shut, and whenever the car "
        "was behind door 2 or door 3, he had to leave exactly that door shut. That's why it "
        "collects the remaining 2/3.",
        "Hmm, and I can see where a 1/2 really does come from. If I chose between the two "
        "closed doors by tossing a coin, I'd win with probability 1/2 × 1/3 + 1/2 × 2/3 = "
        "1/6 + 2/6 = 1/2. So 50/50 is what a random choice between them gets, not the chance "
        "behind each door. The doors aren't equal; only the coin toss treats them as if they "
        "were.",
        "Wait, does all this depend on the host knowing where the car is? Take a host who "
        "opens door 2 or door 3 at random and just happens to show a goat behind door 3. "
        "Then: car 1, he opens door 3 with probability 1/2; car 2, also 1/2; car 3, opening "
        "door 3 would have shown the car, which didn't happen. Joint: 1/6, 1/6, 0. Normalised: "
        "1/2 and 1/2. So with an ignorant host it really is 50/50! The knowledge matters. The "
        "puzzle as usually told has a host who knows and always shows a goat, so 2/3 stands, "
        "but I should say that in the answer.",
        "What if the host has a habit when he has a choice, like preferring door 3? Call the "
        "chance he opens door 3 when the car is behind door 1 p. Then P(car 2 | opens 3) = "
        "(1/3) / (p/3 + 1/3) = 1 / (1 + p). With p = 1/2 that's 2/3 again; with p = 1 it drops "
        "to 1/2; with p = 0 it's 1. It is never below 1/2: switching is never worse than "
        "staying, and usually better.",
        "Let me make sure I'm answering what was asked: should I switch? Yes. I'll give the "
        "probabilities, 2/3 against 1/3, with the short reason, since the 50/50 answer is so "
        "tempting.",
        *voice.asides(2),
        voice.closer(),
    ]
    answer = (
        "**Switch.** Switching wins the car with probability **2/3**; staying wins only 1/3.\n\n"
        "Your first pick is right 1/3 of the time. The host knows where the car is and never "
        "opens your door or the car's, so in the 2/3 of games where you first picked a goat, "
        "the door he leaves closed hides the car.\n\n(This assumes the usual rules: the host "
        "knows, always opens a goat door and always offers the switch. A host who opened a "
        "door at random and happened to show a goat would make it 50/50.)"
    )
    unsure = (
        "Probably **switch**, though I'm not sure it matters much: the host knows where the "
        "car is, which might tilt it a little, but with two doors left it looks close to 50/50."
    )
    hasty = _MONTY_HASTY
    rechecks = (
        "is it really 2/3 and not 1/2? Count the games once more: my first pick is a goat two "
        "times in three, and each time the host's door leaves the car as the only other "
        "closed door. Switching wins exactly then. 2/3, yes.",
        "what if I stick with my door instead, does it ever get better than 1/3? The host "
        "never opens my door, whatever is behind it, so opening a door tells me nothing about "
        "mine. It stays at 1/3, and switching gets the rest.",
    )
    stages = ((("2/3",), answer), (("information",), unsure), ((), hasty))
    return Script(voice.think(steps), answer, stages, rechecks)


def _monty_hall_slipped(voice: Voice) -> Script:
    """The careful count, with one slip: when the car is behind door 2, the host is taken to
    choose between doors 1 and 3, as if he could open the player's door. Every later check
    (the frequencies, symmetry, the host's knowledge) reuses that count, so none catches it."""
    steps = [
        voice.opener(_MONTY_QUESTION),
        _MONTY_SETUP,
        _MONTY_INSTINCT,
        "Hmm, but I should be careful. The host didn't open a door at random: he knows where "
        "the car is, and he never reveals it. Does that change anything about the two doors "
        "left? The famous answer is that it does. Let me not trust my instinct or the famous "
        "answer; let me count the cases.",
        "The car is in one of three places, each with probability 1/3, and I picked door 1. "
        "What does the host do in each case?\n- Car behind door 1: the goats are behind doors "
        "2 and 3, and he shows one of them, door 3 half the time.\n- Car behind door 2: the "
        "goats are behind doors 1 and 3, and he shows one of them, door 3 half the time.\n- "
        "Car behind door 3: the goats are behind doors 1 and 2; he never opens door 3, since "
        "that would show the car.",
        "He opened door 3. So:\n- P(opens 3 | car 1) = 1/2\n- P(opens 3 | car 2) = 1/2\n"
        "- P(opens 3 | car 3) = 0.",
        "Multiply by the prior 1/3: the joint probabilities are 1/6, 1/6 and 0. They add up to "
        "P(opens 3) = 1/6 + 1/6 = 1/3. Now divide: P(car 1 | opens 3) = (1/6) / (1/3) = 1/2, "
        "and P(car 2 | opens 3) = (1/6) / (1/3) = 1/2.",
        f"{voice.check()} The posteriors add up to 1/2 + 1/2 = 1, and door 3 has 0, as it "
        "must: he showed a goat there. So the instinct was right after all. The host's door "
        "rules out door 3, and nothing more.",
        "Another way to see it: list every (car, door opened) outcome with its probability. "
        "(car 1, opens 2): 1/6. (car 1, opens 3): 1/6. (car 2, opens 1): 1/6. (car 2, opens 3): "
        "1/6. (car 3, opens 1): 1/6. (car 3, opens 2): 1/6. They add up to 1. With door 3 "
        "open, only (car 1, opens 3) and (car 2, opens 3) are left, and they are equally "
        "likely: 1/2 each again.",
        "What if the host has a habit when he has a choice, like preferring door 3? Call the "
        "chance he opens door 3 when he can choose it p. In my count he has that choice both "
        "when the car is behind door 1 and when it's behind door 2, so P(car 2 | opens 3) = "
        "(p/3) / (p/3 + p/3) = 1/2, whatever p is. Even a host with a habit leaves it at 1/2.",
        "A frequency check, to be safe: play 300 games, always picking door 1. The car is "
        "behind door 1 in about 100 of them, and the host opens door 3 in about 50 of those. "
        "The car is behind door 2 in about 100, and he shows one of its two goat doors, door 3 "
        "in about 50. When the car is behind door 3, he never opens door 3. So of the roughly "
        "100 games where door 3 is opened, the car is behind door 1 in 50 and behind door 2 in "
        "50. Even. Staying wins 50, switching wins 50.",
        "So where does the famous 2/3 come from? The usual argument: my first pick had 1/3, "
        "and 'the other doors' together had 2/3, which the host squeezes into the one he "
        "leaves shut. But once door 3 is open, 'the other doors' are just door 2, and door 2 "
        "was never any likelier than door 1 to hide the car. The 2/3 seems to count door 3's "
        "third twice: once when it's opened, and again when it's handed to door 2.",
        "Does the host's knowledge tilt it? He knows where the car is, and I used that: it's "
        "why he never opens the car's door, and why the car-behind-door-3 games drop out. But "
        "that knowledge rules out door 3 for both of the doors left alike. It doesn't favour "
        "door 1 over door 2 or the other way round.",
        "Another angle, symmetry. Everything in my count treats doors 1 and 2 alike: each "
        "hides the car 1/3 of the time beforehand, and in each case the host opens door 3 half "
        "the time. Nothing singles either of them out, so after door 3 is opened they must "
        "still be equally likely. Two equally likely doors: 1/2 each.",
        "And a coin toss between them would win with probability 1/2 × 1/2 + 1/2 × 1/2 = 1/2, "
        "the same as staying, and the same as switching. Everything agrees, which is what I'd "
        "expect if the doors really are equal.",
        "Does the offer itself tell me anything? Hmm. In the usual telling the host offers the "
        "switch in every game, whatever is behind my door. An offer he always makes carries no "
        "information, so it can't move the probabilities either.",
        "What about a host who opened a door at random and just happened to show a goat? Then "
        "it's 50/50 too: doors 1 and 2 would each be opened by chance alike. So with a knowing "
        "host or an ignorant one, the two closed doors come out the same. That's reassuring: "
        "the answer doesn't hang on a detail of the rules.",
        "Let me make sure I'm answering what was asked: should I switch? It makes no "
        "difference. The car is behind door 1 or door 2, equally likely, so switching neither "
        "helps nor hurts. I'll say so, with the count that shows it, since the famous 2/3 "
        "answer will be on the asker's mind. Staying has the small comfort of not "
        "second-guessing my first pick, but that's a feeling, not a better chance: the odds "
        "are the same either way.",
        *voice.asides(2),
        voice.closer(),
    ]
    answer = (
        "**It doesn't matter.** Once the host has opened door 3, the car is behind door 1 or "
        "door 2 with probability **1/2** each, so staying and switching win equally often.\n\n"
        "The host never shows the car, so his door rules out door 3, but it doesn't favour "
        "either of the two doors left."
    )
    rechecks = (
        "is it really 1/2 each? Doors 1 and 2 each hide the car a third of the time, and "
        "either way the host opens door 3 half the time. Equal weights, equal chances. Yes.",
        "could the host's knowledge tilt it after all? He knows where the car is, so he never "
        "opens its door: that is what rules out door 3. Between doors 1 and 2 it changes "
        "nothing. Still 1/2.",
    )
    stages = ((("1/2",), answer), ((), _MONTY_HASTY))
    return Script(voice.think(steps), answer, stages, rechecks)


def loop(voice: Voice, budget: int) -> Script:
    """Counting letters, then doubting the count, again and again, past `budget` tokens."""
    head = voice.opener('I have to count the letter "r" in "strawberry"')
    first = (
        'Strawberry: there\'s an r right after the "st", and a double r in "berry". One plus '
        "two, so three. Hmm, but I've seen people say two. Let me check."
    )
    passage = (
        "Let me spell it out: s, t, r, a, w, b, e, r, r, y. The r's are at positions 3, 8 and "
        '9. So that\'s three r\'s. Wait, but "berry" has two r\'s and "straw" has one, and '
        "that also makes three. Hmm, but people often say two. Did I double count? Let me count "
        "again, carefully, letter by letter."
    )
    parts = [head, first]
    words = len(head.split()) + len(first.split())
    while words <= budget + 20:
        parts.append(passage)
        words += len(passage.split())
    answer = 'There are **3** r\'s in "strawberry".'
    hasty = 'There are **2** r\'s in "strawberry".'
    rechecks = (
        "let me count just once more, slowly: s-t-r-a-w-b-e-r-r-y. One r after the t, then two "
        'together before the y. Three. People say two because "berry" sounds like it has one '
        "r, but the letters are there.",
    )
    return Script(voice.think(parts), answer, ((("three",), answer), ((), hasty)), rechecks)
