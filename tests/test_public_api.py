"""The public face: one list of exported names, kept in step, each saying `qwq_jupyter`."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import qwq_jupyter
from qwq_jupyter.core import errors
from qwq_jupyter.core.public import PUBLIC

INIT = Path(qwq_jupyter.__file__)


def _type_checking_names() -> set[str]:
    tree = ast.parse(INIT.read_text())
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    )
    return {alias.asname or alias.name for node in block.body for alias in node.names}  # type: ignore[attr-defined]


def test_the_type_checking_imports_match_the_public_list() -> None:
    assert _type_checking_names() == set(PUBLIC)


def test_all_lists_every_public_name() -> None:
    assert set(qwq_jupyter.__all__) == set(PUBLIC) | {
        "load_ipython_extension",
        "unload_ipython_extension",
    }


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_name_resolves_where_the_list_says(name: str) -> None:
    value = getattr(qwq_jupyter, name)
    defined = importlib.import_module(f"qwq_jupyter.{PUBLIC[name]}")
    assert getattr(defined, name) is value
    assert value.__module__ == "qwq_jupyter", f"{name} shows {value.__module__}"


def test_every_error_class_is_public_and_in_the_error_module() -> None:
    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    assert classes <= set(PUBLIC)
    assert {name for name, home in PUBLIC.items() if home == "core.errors"} == classes


def test_no_error_class_is_defined_outside_the_error_module() -> None:
    """Private ones used only for control flow inside one module (`_Malformed`) are fine."""
    package = INIT.parent
    for path in package.rglob("*.py"):
        if "testing" in path.relative_to(package).parts or path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = " ".join(ast.unparse(base) for base in node.bases)
                assert not any(word in bases for word in ("Error", "Exception", "Miss")), (
                    f"{path.relative_to(package)} defines {node.name}({bases})"
                )
