"""The shipped notebooks run top to bottom with no credentials, against the offline demo."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["quickstart.ipynb", "reasoning.ipynb", "data_analysis.ipynb"]
#: Anything that would point a kernel at a real backend, or at a server started elsewhere.
BACKEND_VARIABLES = (
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN",
    "QWQ_BASE_URL",
    "QWQ_JUPYTER_DEMO",
    "QWQ_API_BASE",
    "QWQ_BACKEND",
    "QWQ_JUPYTER_RECORD",
    "QWQ_JUPYTER_REPLAY",
)
DEMO_TOKEN = "test-token"  # the offline demo server's token


def run_notebook(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> nbformat.NotebookNode:
    """Execute a copy of the notebook in `tmp_path` (no `.env` there), save it, read it back."""
    for variable in BACKEND_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    shutil.copy(NOTEBOOKS / name, path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    nbformat.write(notebook, path)
    for written in tmp_path.iterdir():  # the notebook and what `%qwq save` wrote
        assert DEMO_TOKEN not in written.read_text(encoding="utf-8"), written.name
    saved = nbformat.read(path, as_version=4)
    nbformat.validate(saved)
    check_outputs(saved)
    return saved


def check_outputs(notebook: nbformat.NotebookNode) -> None:
    """Errors only where tagged; each reply is one portable Markdown output, banner to footer."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            # it fails on purpose, and the notebook goes on; a magic's refusal (UsageError)
            # is one line on stderr, not a traceback
            refusal = [o for o in cell.outputs if o.get("text", "").startswith("UsageError: ")]
            assert errors or refusal, cell.source
            if refusal:
                continue
        else:
            assert not errors, cell.source
        first_line = cell.source.partition("\n")[0]
        if first_line.startswith("%%qwq") and (
            "--dry-run" in first_line or "--compare" in first_line or "--vote" in first_line
        ):
            # not a reply: the value of the cell (a request preview, a comparison, a vote)
            assert [o.output_type for o in cell.outputs] == ["execute_result"], cell.outputs
            continue
        if not (first_line.startswith("%%qwq") or first_line.startswith("%qwq explain")):
            continue
        assert len(cell.outputs) == 1, (cell.source, cell.outputs)
        output = cell.outputs[0]
        assert output.output_type == "display_data", cell.source
        html = output.data["text/html"]
        assert html.startswith('<div class="qwq-output tex2jax_ignore mathjax_ignore">'), html
        assert '<div class="qwq-note"' in html and "offline demo" in html, html
        assert "tok/s" in html, html
        # every scripted reply reasons first; the reasoning is folded away
        assert '<details class="qwq-reasoning"><summary>Reasoning' in html, html
        assert "</pre></details>" in html, html
        assert "text/markdown" not in output.data  # one parser decides: ours


def cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def stdout(code_cell: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in code_cell.outputs if o.output_type == "stream")


def html_of(code_cell: nbformat.NotebookNode) -> str:
    return code_cell.outputs[0].data["text/html"]


def preformatted(html: str) -> list[str]:
    """The texts shown as written (`<pre>`), unescaped."""
    return [
        unescape(text) for text in re.findall(r'<pre class="qwq-pre"[^>]*>(.*?)</pre>', html, re.S)
    ]


def reasoning_of(html: str) -> str:
    """The folded reasoning of a reply, unescaped."""
    found = re.search(
        r'<details class="qwq-reasoning">.*?<pre[^>]*>(.*?)</pre></details>', html, re.S
    )
    assert found, html
    return unescape(found[1])


def results(code_cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for o in code_cell.outputs if o.output_type == "execute_result"]


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for code_cell in notebook.cells:
        if code_cell.cell_type == "code":
            assert code_cell.outputs == [] and code_cell.execution_count is None


def test_quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = run_notebook("quickstart.ipynb", tmp_path, monkeypatch)
    assert "offline demo" in stdout(notebook.cells[1])
    (save_load,) = [c for c in notebook.cells if "%qwq load" in c.source]
    assert "loaded default from quickstart-chat.json" in stdout(save_load)
    assert (tmp_path / "quickstart-chat.json").exists()
    (response_cell,) = [c for c in notebook.cells if c.source.startswith("print(repr(reply))")]
    assert "finish reason: stop" in stdout(response_cell)


def test_reasoning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = run_notebook("reasoning.ipynb", tmp_path, monkeypatch)
    assert "offline demo" in stdout(cell(notebook, "setup"))

    stats = stdout(cell(notebook, "first-stats"))
    reasoning = int(re.search(r"reasoning tokens: (\d+)", stats)[1])
    answer = int(re.search(r"answer tokens: +(\d+)", stats)[1])
    assert reasoning > answer > 0
    first_reasoning = reasoning_of(html_of(cell(notebook, "ask-first")))
    assert "36 × 25" in first_reasoning and "900" in html_of(cell(notebook, "ask-first"))
    assert "split estimated:  True" in stats
    assert re.search(r"thinking time: +\d+\.\d\d s", stats)

    assert "Stopped at max_tokens while still reasoning" in html_of(cell(notebook, "cut-ask"))
    cut = stdout(cell(notebook, "cut-stats"))
    assert "finish reason: length" in cut and "answer: ''" in cut
    assert "reasoning tokens: 40" in cut

    compare = html_of(cell(notebook, "compare"))
    assert "<th>run</th><th>reasoning tokens</th><th>answer tokens</th>" in compare
    for run in ("temperature=0.2", "temperature=0.6", "temperature=1"):
        assert f"<td>{run}</td>" in compare
    assert re.search(r"[0-3] of 3 answers agree", compare)
    # the demo's reasoning, like the model's, depends on the temperature
    runs = re.findall(r"<tr><td>temperature=[\d.]+</td><td>(\d+)</td>", compare)
    assert len(runs) == 3 and len(set(runs)) > 1, runs
    assert "offline demo" in compare  # the banner says the replies are scripted
    assert "Scripted by" not in compare  # and no answer repeats it
    pick = cell(notebook, "pick")
    assert "run 2 (temperature=0.6) is now the last turn of 'hamster'" in stdout(pick)
    (picked,) = results(pick)
    assert "Conversation 'hamster': 1 turn<" in picked.data["text/html"]

    history = html_of(cell(notebook, "history"))
    assert "2 turns" in history and "hamster" not in history  # --no-history, --chat stay out
    assert first_reasoning[:60] not in history  # the reasoning is not part of the history
    assert "**900**" not in history and "900" in history  # the answer is, as written

    dry_run = html_of(cell(notebook, "dry-run"))
    assert "<p><b>Dry run: nothing was sent.</b></p>" in dry_run
    assert "POST offline demo (answered in this kernel)" in dry_run  # no URL, no key
    body, template = preformatted(dry_run)
    sent = json.loads(body)["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user"]
    assert sent[0]["content"] == "What is 36 × 25? Show a quick mental-math shortcut."
    assert sent[-1]["content"] == "Now show the same shortcut for 48 × 25."
    assert first_reasoning[:60] not in dry_run  # earlier reasoning is never sent back
    assert sent[1]["content"].startswith("36 × 25 = **900**")  # the answer goes back
    assert template.startswith("<|im_start|>user\nWhat is 36 × 25?")
    assert template.endswith(
        "<|im_start|>user\nNow show the same shortcut for 48 × 25.<|im_end|>"
        "\n<|im_start|>assistant\n<think>\n"
    )

    usage = stdout(cell(notebook, "usage"))
    assert usage.startswith("6 calls")  # the dry run sent nothing
    cost = stdout(cell(notebook, "cost"))
    by_hand = re.search(r"= (\$[\d.]+)", cost)[1]
    assert f"its response object says:   {by_hand}" in cost
    total = re.search(r"(\$[\d.]+)$", usage.strip())[1]
    assert f"all 6 calls: {total} " in cost

    session_stats = cell(notebook, "stats")
    (plot,) = [o for o in session_stats.outputs if o.output_type == "display_data"]
    assert "image/png" in plot.data
    (table,) = results(session_stats)
    table = table.data["text/html"]
    assert "<th>conversation</th><th>turns</th><th>input tok</th><th>reasoning tok</th>" in table
    assert "<td>default</td><td>2</td>" in table and "<td>hamster</td><td>1</td>" in table
    assert "<td>session (all)</td><td>3</td>" in table and "qwq-math" not in table

    assert stdout(cell(notebook, "record")).strip() == "recording replies to lesson.json"
    cassette = json.loads((tmp_path / "lesson.json").read_text(encoding="utf-8"))
    (entry,) = cassette["entries"].values()
    question = "Why does a reasoning model think before it answers? One sentence."
    assert entry["request"]["messages"] == [{"role": "user", "content": question}]
    replay = stdout(cell(notebook, "replay"))
    assert "replaying 1 recorded replies from lesson.json (no network)" in replay
    check = stdout(cell(notebook, "replay-check"))
    assert "same answer as recorded:    True" in check
    assert "same reasoning as recorded: True" in check
    assert stdout(cell(notebook, "replay-off")).strip() == "replay is off"

    puzzle = stdout(cell(notebook, "puzzle-stats"))
    short, long = (int(n) for n in re.findall(r"reasoning tokens, .*?: +(\d+)", puzzle))
    assert long > 2 * short
    assert "goat" in html_of(cell(notebook, "puzzle"))
    changed = html_of(cell(notebook, "mind-change"))
    assert "Wait, that&#x27;s wrong" in changed or "Wait, that's wrong" in changed
    assert "5 cents" in changed
    check_budgets(notebook)
    check_loops(notebook)
    check_anatomy_divergence_and_vote(notebook)


def check_budgets(notebook: nbformat.NotebookNode) -> None:
    """Cutting the thinking short: what each budget gives, costs, and how the caps refuse."""
    bat = html_of(cell(notebook, "budget-bat"))
    assert "<th>thinking cut</th>" in bat and "<td>0 tokens (think_budget)</td>" in bat
    assert "told: “Considering the limited time" in bat
    table = stdout(cell(notebook, "budget-table"))
    rows = re.findall(r"^(bat|Monty Hall) +(\d+) +(\d+) +(\d) +\$([\d.]+)  (.*)$", table, re.M)
    assert len(rows) == 6, table
    by_budget = {
        (q, int(b)): (int(r), int(calls), float(cost), a) for q, b, r, calls, cost, a in rows
    }
    assert "$0.10" in by_budget["bat", 0][3] and "5 cents" in by_budget["bat", 1000][3]
    assert by_budget["bat", 0][:2] == (0, 2)  # no thinking, and the one continuation call
    assert by_budget["bat", 200][1] == 1  # it finished before the budget: nothing was cut
    assert "doesn't matter" in by_budget["Monty Hall", 0][3]  # the 50/50 trap
    assert "**Switch.**" in by_budget["Monty Hall", 1000][3]
    assert by_budget["Monty Hall", 1000][0] == 1000 and by_budget["Monty Hall", 200][0] == 200
    costs = [by_budget["Monty Hall", budget][2] for budget in (0, 200, 1000)]
    assert costs == sorted(costs) and costs[0] < costs[2]  # more thought, more money

    assert re.match(
        r"spent \$0\.\d{4} of \$0\.0200, \$0\.\d{4} left", stdout(cell(notebook, "budget-set"))
    )
    # refused in one line (a UsageError, as every refusal); tagged, so Run All goes on
    refused = stdout(cell(notebook, "budget-refused"))
    assert refused.startswith("UsageError: refused: this call could cost up to $0.0")
    assert "391" in html_of(cell(notebook, "budget-capped-ask"))
    left = stdout(cell(notebook, "budget-left"))
    assert "left" in left and "no budget set" in left


def check_anatomy_divergence_and_vote(notebook: nbformat.NotebookNode) -> None:
    """Where the answer was found, where two samples part, and a majority vote, on the demo."""
    footer = html_of(cell(notebook, "anatomy-ask"))
    assert "anatomy: answer first reached at" in footer
    strip = results(cell(notebook, "anatomy-show"))[0].data
    assert strip["text/plain"].startswith("Anatomy of the reasoning of the last reply")
    assert (
        'class="qwq-anatomy"' in strip["text/html"]
        and "▲ answer first reached" in strip["text/html"]
    )
    numbers = stdout(cell(notebook, "anatomy-numbers"))
    assert "final answer: 391" in numbers
    first, total = (int(n) for n in re.search(r"token (\d+) of (\d+)", numbers).groups())
    assert 0 < first < total / 2  # found early, then checked: "overthinking"

    compare = html_of(cell(notebook, "diverge-compare"))
    assert "Runs 1 and 2: same for " in compare and "<th>answer at</th>" in compare
    diff = results(cell(notebook, "diverge-diff"))[0].data["text/plain"]
    assert re.search(r"same for \d steps .* A answers 391, B answers 381", diff), diff

    numbers = stdout(cell(notebook, "vote-numbers"))
    assert "majority: 391" in numbers
    agreement = int(re.search(r"agreement: (\d+)%", numbers)[1])
    assert 50 < agreement < 100  # a majority, not unanimity
    assert "worst case before sending" in html_of(cell(notebook, "vote"))
    assert re.match(
        r"run \d \(seed=\d\) is now the last turn of 'default'", stdout(cell(notebook, "vote-pick"))
    )


def check_loops(notebook: nbformat.NotebookNode) -> None:
    """The loop guard answers from before the loop; without it, max_tokens is the only net."""
    assert "repeating since token" in html_of(cell(notebook, "loop"))
    looped = stdout(cell(notebook, "loop-stats"))
    assert "what was done: answer" in looped and "calls: 2" in looped
    assert "**3**" in looped
    unguarded = stdout(cell(notebook, "loop-unguarded-stats"))
    assert "finish reason: length" in unguarded and "answer: ''" in unguarded
    assert int(re.search(r"came back: (\d+)", unguarded)[1]) >= 3


def test_data_analysis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = run_notebook("data_analysis.ipynb", tmp_path, monkeypatch)
    summary = stdout(cell(notebook, "summary"))
    assert summary.startswith("pandas DataFrame: 12 rows × 4 columns")
    assert "revenue: float64, 2 null" in summary and "numeric summary:" in summary
    # the prompt names no data words itself: the demo answers with code only because {@df}
    # put the DataFrame's summary into it
    assert "{@df}" in cell(notebook, "ask-advice").source
    assert "<pre><code>" in html_of(cell(notebook, "ask-advice"))

    run = cell(notebook, "run-code")
    text = stdout(run)
    assert "QwQ's code:\n" in text and "df.groupby(" in text
    assert "ran QwQ's code: no errors" in text and "failed" not in text
    (table,) = [o for o in run.outputs if o.output_type == "display_data"]
    assert "text/html" in table.data
    assert "North" in table.data["text/plain"] and "1230.0" in table.data["text/plain"]

    # --code hands the block to set_next_input, which nbclient ignores: the reply is all
    assert "<pre><code>" in html_of(cell(notebook, "ask-code"))

    fails = cell(notebook, "fails")
    assert fails.metadata.tags == ["raises-exception"]
    (error,) = fails.outputs
    assert error.ename == "KeyError" and "revenu" in error.evalue
    explained = html_of(cell(notebook, "explain"))
    assert "traceback" in explained
    assert "the column is called <code>revenue</code>, not <code>revenu</code>" in explained

    (frame,) = results(cell(notebook, "batch"))
    assert "<th>answer</th>" in frame.data["text/html"]
    for column in ("review", "answer", "reasoning_tokens", "cost", "error"):
        assert column in frame.data["text/plain"]
    assert "Arrived quickly" in frame.data["text/plain"]
    labels = re.findall(
        r"<td>(?:<strong>)?\*{0,2}(Positive|Negative|Mixed)", frame.data["text/html"]
    )
    assert labels == ["Positive", "Negative", "Mixed", "Positive", "Negative", "Mixed"], labels
    batch_summary = stdout(cell(notebook, "batch-summary"))
    assert batch_summary.startswith("6 reviews, 0 failed, $")
    assert "None" not in batch_summary  # every review has its reasoning tokens

    # 4 %%qwq calls and the 6 batch items
    assert stdout(cell(notebook, "usage")).startswith("10 calls")
    check_tools(notebook)


def check_tools(notebook: nbformat.NotebookNode) -> None:
    """QwQ called the analyst's functions: they ran in the kernel on `df` with the arguments
    the question gives, and the answer quotes what they returned."""
    namespace: dict[str, object] = {}
    exec(cell(notebook, "make-df").source, namespace)  # the notebook's own data
    df = namespace["df"]
    north = int((df["region"] == "North").sum())
    revenue = df.dropna(subset=["revenue"]).groupby("month")["revenue"]
    means = {month: round(sum(rows) / len(rows), 2) for month, rows in revenue}
    asked = unescape(html_of(cell(notebook, "ask-tools")))
    reasoning = reasoning_of(html_of(cell(notebook, "ask-tools")))
    assert "`count_rows` fits" in reasoning and "`group_mean` fits" in reasoning
    calls = [
        'count_rows(column="region", value="North")',
        'group_mean(by="month", column="revenue")',
    ]
    answer = asked.split('<div class="qwq-answer">', 1)[1]
    assert f"<code>{calls[0]}</code> returned <strong>{north}</strong>" in answer
    assert f"<code>{calls[1]}</code> returned <code>{json.dumps(means)}</code>" in answer
    for call in calls:  # each shown as it ran, with its result
        assert f"<summary>⚙ {call} → " in asked
    assert "2 calls · 2 tool calls · stop" in asked  # one round: the calls, then the answer

    (table,) = results(cell(notebook, "tool-calls"))
    rows = unescape(table.data["text/html"])
    assert "<th>name</th>" in rows and "<th>arguments</th>" in rows and "<th>seconds</th>" in rows
    assert "<td>{'column': 'region', 'value': 'North'}</td>" in rows
    assert "<td>{'by': 'month', 'column': 'revenue'}</td>" in rows
    assert f"<td>{north}</td>" in rows
