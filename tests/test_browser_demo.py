"""What a newcomer sees: the shipped notebooks on the offline demo, in JupyterLab, both themes.

No keys: `%qwq demo` answers in the kernel. The module runs the quickstart and the teaching
notebook whole in Chromium at 1200 px and checks what is visible: answers rendered (no raw
`**`), the comparison's runs side by side and wide enough that words are not broken, the stats
table's dollar amounts literal (no math), one demo banner per output and none inside an
answer. It saves screenshots of the key outputs in the light and the dark theme
(tests/artifacts/; the README's in docs/screenshots/ are refreshed with
QWQ_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyterlab_page import JupyterLabServer, NotebookPage, chromium_page

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
#: Per notebook: (a line of the cell's source, the screenshot's name).
SHOTS = {
    "data_analysis.ipynb": [
        ("%%qwq --out advice", "demo-analysis"),
        ("%%qwq --tools tools --out reply", "demo-tools"),
    ],
    "quickstart.ipynb": [
        ("What is 17 × 23?", "demo-quickstart-answer"),
        ("%qwq history", "demo-history"),
    ],
    "reasoning.ipynb": [
        ("What is 36 × 25?", "demo-answer"),
        ("--compare", "demo-compare"),
        ("%qwq stats", "demo-stats"),
        ("--compare think_budget", "demo-budgets"),
        ("%%qwq --no-history --out looped", "demo-loop"),
        ("%qwq anatomy", "demo-anatomy"),
        ("%qwq diff r1 r2", "demo-diff"),
        ("--vote 8", "demo-vote"),
    ],
}

_LOOK_JS = """() => {
  const answers = [...document.querySelectorAll('.qwq-answer')].map((a) => a.innerText);
  const outputs = [...document.querySelectorAll('.jp-OutputArea-output')];
  const banners = outputs.map((o) => [...o.querySelectorAll('.qwq-note')]
    .filter((n) => n.innerText.includes('offline demo')).length);
  const runs = [...document.querySelectorAll('.qwq-grid .qwq-run')].map((r) => {
    const box = r.getBoundingClientRect();
    return {left: box.left, top: box.top, width: box.width};
  });
  const tables = [...document.querySelectorAll('.qwq-table')];
  const steering = [...document.querySelectorAll('.qwq-steering')].map((n) => n.innerText);
  const strips = [...document.querySelectorAll('.qwq-anatomy > div:first-child')];
  return {
    answers,
    steering,
    strips: strips.map((s) => s.querySelectorAll('span[title]').length),
    stripWidth: strips.length ? strips[0].getBoundingClientRect().width : 0,
    banners,
    runs,
    tableText: tables.map((t) => t.innerText).join('\\n'),
    tableMath: tables.reduce((n, t) => n + t.querySelectorAll('mjx-container').length, 0),
  };
}"""


@dataclass
class Seen:
    look: dict[str, Any] = field(default_factory=dict)
    shots: list[Path] = field(default_factory=list)


def _code_cells(path: Path) -> int:
    return sum(1 for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


_VISITED: dict[str, Seen] = {}


def _visit(name: str, tmp_path_factory: pytest.TempPathFactory) -> Seen:
    """Run notebook `name` in JupyterLab on the demo and look at it (once per module)."""
    if name in _VISITED:
        return _VISITED[name]
    root = tmp_path_factory.mktemp("demo-root")
    home = tmp_path_factory.mktemp("demo-home")
    _runnable_copy(REPO / "notebooks" / name, root / name)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "QWQ_"))
    }  # a newcomer: no keys
    jupyter = JupyterLabServer(
        root, home, env, ARTIFACTS / "jupyterlab-demo.log", every_cell_rendered=True
    )
    result = Seen()
    try:
        jupyter.start()
        with chromium_page(1200) as page:
            notebook = NotebookPage(page)
            notebook.open(jupyter.url, name)
            try:
                notebook.run_all(_code_cells(root / name), timeout=300)
                page.wait_for_timeout(1000)
                result.look = page.evaluate(_LOOK_JS)
                for theme in ("light", "dark"):
                    if theme == "dark":
                        notebook.set_theme("JupyterLab Dark")
                    for source, shot in SHOTS[name]:
                        result.shots.append(_shoot(notebook, source, f"{shot}-{theme}"))
            except BaseException:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=ARTIFACTS / "failure-demo.png")
                print(jupyter.log_tail())
                raise
    finally:
        jupyter.stop()
    _VISITED[name] = result
    return result


def _runnable_copy(source: Path, target: Path) -> None:
    """The notebook as JupyterLab's Run All can run it and count its cells: "Run All" stops at
    the first error, so a cell that fails on purpose (tagged `raises-exception`) and the
    `%qwq explain` that reads its error are left out, and `--code` (which adds a cell below)
    is dropped; tests/test_notebooks.py runs them whole with nbclient."""
    notebook = nbformat.read(source, as_version=4)
    cells = notebook.cells
    failing = [i for i, c in enumerate(cells) if "raises-exception" in c.metadata.get("tags", [])]
    drop = set(failing) | {i + 1 for i in failing if "%qwq explain" in cells[i + 1].source}
    notebook.cells = [cell for i, cell in enumerate(cells) if i not in drop]
    for cell in notebook.cells:
        if cell.source.startswith("%%qwq --code"):
            cell.source = cell.source.replace("%%qwq --code", "%%qwq", 1)
    nbformat.write(notebook, target)


@pytest.fixture(scope="module", params=sorted(SHOTS))
def seen(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Seen:
    """Each shipped notebook that runs top to bottom in JupyterLab, on the demo."""
    return _visit(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def teaching(tmp_path_factory: pytest.TempPathFactory) -> Seen:
    """The teaching notebook: it has the comparison and the stats table."""
    return _visit("reasoning.ipynb", tmp_path_factory)


def _shoot(notebook: NotebookPage, source: str, name: str) -> Path:
    output = notebook.output_of(source)
    output.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    output.screenshot(path=path)
    published = SCREENSHOTS / f"{name}.png"
    if os.environ.get("QWQ_UPDATE_SCREENSHOTS") == "1" or not published.exists():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, published)
    return path


def test_answers_are_rendered_not_raw_markdown(seen: Seen) -> None:
    answers = seen.look["answers"]
    assert len(answers) >= 3
    assert not any("**" in text for text in answers), [a for a in answers if "**" in a][:2]


def test_one_banner_per_output_and_none_inside_an_answer(seen: Seen) -> None:
    assert max(seen.look["banners"]) <= 1
    assert not any("offline demo" in text.lower() for text in seen.look["answers"])


def test_the_comparison_runs_sit_side_by_side_and_wide(teaching: Seen) -> None:
    runs = teaching.look["runs"]
    assert len(runs) >= 3
    first_row = [r for r in runs if abs(r["top"] - runs[0]["top"]) < 2]
    assert len(first_row) >= 2  # side by side at 1200 px
    assert len({round(r["left"]) for r in first_row}) == len(first_row)
    assert min(r["width"] for r in runs) >= 250  # a column fits whole words


def test_steering_says_where_the_thinking_was_cut_and_why(teaching: Seen) -> None:
    steering = teaching.look["steering"]
    assert any(line.startswith("✂ thinking cut at 0 tokens by think_budget") for line in steering)
    assert any(line.startswith("↻ repeating since token") for line in steering)
    assert "thinking cut" in teaching.look["tableText"]  # the comparison's column


def test_the_anatomy_strip_is_drawn_with_a_segment_per_step(teaching: Seen) -> None:
    strips = teaching.look["strips"]
    assert strips and min(strips) >= 4  # segments in each strip, one per step
    assert teaching.look["stripWidth"] > 600  # the strip spans the output at 1200 px


def test_the_stats_dollars_stay_literal(teaching: Seen) -> None:
    assert "$0.0" in teaching.look["tableText"]
    assert teaching.look["tableMath"] == 0


def test_screenshots_in_both_themes(seen: Seen) -> None:
    assert len(seen.shots) >= 4
    assert all(path.stat().st_size > 2000 for path in seen.shots)
