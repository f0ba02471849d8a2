"""The layers of docs/ARCHITECTURE.md, held against the code's own imports.

Every import counts, including those under `if TYPE_CHECKING:` and inside functions: a lazy or
type-only import ties two modules together all the same.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qwq_jupyter"
# Lowest first: a layer may import its own and the ones before it, never a later one.
LAYERS = ["core", "wire", "client", "session", "render", "features", "notebook", "<root>"]
# Known arrows that break the rule, each with the reason it is still there (none today).
EXCEPTIONS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    parts = [part for part in relative.parts if part != "__init__"]
    return ".".join(parts) or "<root>"


def _layer(module: str) -> str:
    top = module.split(".")[0]
    return top if top in LAYERS or top == "testing" else "<root>"


def _imports(path: Path) -> set[str]:
    """Modules of the package that `path` imports, as dotted names below qwq_jupyter."""
    module = _module_name(path)
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    if module == "<root>":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                found.update(name.strip(".") for name in names)
            elif node.module and node.module.startswith("qwq_jupyter."):
                found.add(node.module.removeprefix("qwq_jupyter."))
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("qwq_jupyter.")
                for a in node.names
                if a.name.startswith("qwq_jupyter.")
            )
    return {name for name in found if name}


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "testing" not in p.relative_to(PACKAGE).parts)
GRAPH = {_module_name(path): _imports(path) for path in SOURCES}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_goes_up_a_layer(module: str) -> None:
    own = _layer(module)
    for target in GRAPH[module]:
        layer = _layer(target)
        if (module, layer) in EXCEPTIONS or (layer == "testing" and own == "<root>"):
            continue
        assert layer != "testing", f"{module} imports the test server ({target})"
        assert LAYERS.index(layer) <= LAYERS.index(own), f"{module} ({own}) imports {target}"


def test_no_import_circles() -> None:
    modules = {name for name in GRAPH if not name.endswith("__init__")}

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    edges = {m: {t for t in map(resolve, GRAPH[m]) if t and t != m} for m in modules}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, " -> ".join([*visiting[visiting.index(node) :], node])
        visiting.append(node)
        for target in edges.get(node, ()):
            visit(target)
        visiting.pop()
        done.add(node)

    for module in sorted(modules):
        visit(module)


def test_no_module_is_too_large() -> None:
    """About 500 lines at most: a module one can read whole."""
    sizes = {_module_name(p): len(p.read_text().splitlines()) for p in SOURCES}
    assert max(sizes.values()) <= 520, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]


def test_only_the_session_writes_its_own_fields() -> None:
    """Other modules ask the session to change (`use_credentials`, `count`, …), never assign."""
    assignment = re.compile(r"\b_?session\.\w+(\.\w+)*\s*(=|\+=)(?!=)")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in SOURCES
        if path.relative_to(PACKAGE).parts[0] != "session"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if assignment.search(line)
    ]
    assert offenders == []
