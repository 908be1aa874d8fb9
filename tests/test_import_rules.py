"""Layering rules: the core and the app never pull in heavy stages.

* ``pneumo/`` imports neither Qt (PySide6) nor TensorFlow/Keras, nor the stage
  packages ``train``/``convert``/``desktop``, at any level -- except inside
  functions of ``pneumo/cli.py``, which dispatch the stages lazily.
* ``desktop/`` never imports TensorFlow/Keras.
* ``train/``, ``convert/`` and ``desktop/`` do not import each other.

Checked statically (AST of every ``.py`` file, including imports inside
functions and ``importlib.import_module("...")`` calls with a literal name)
and dynamically (importing the core in a fresh interpreter).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.subproc import REPO_ROOT, run_python

QT = frozenset({"PySide6", "shiboken6"})
TF = frozenset({"tensorflow", "keras", "tf_keras"})
STAGES = frozenset({"train", "convert", "desktop"})
DISPATCHER = "pneumo/cli.py"


@dataclass(frozen=True)
class Violation:
    """One forbidden import: where, what, and which rule."""

    file: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: imports {self.imported} ({self.rule})"


def _package_of(rel: str) -> list[str]:
    """The package a file's relative imports start from (``a/b/c.py`` -> a.b)."""
    return rel[: -len(".py")].split("/")[:-1]


def _imports(tree: ast.AST, rel: str) -> list[tuple[str, int, bool]]:
    """(absolute module name, line, inside a function) for every import."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno, in_function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(rel)[: len(_package_of(rel)) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.append((name, node.lineno, in_function))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("__import__", "import_module")
                )
            )
        ):
            found.append((node.args[0].value, node.lineno, in_function))
        nested = in_function or isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        )
        for child in ast.iter_child_nodes(node):
            visit(child, nested)

    visit(tree, False)
    return found


def check_source(source: str, rel: str) -> list[Violation]:
    """Violations in one file's ``source``; ``rel`` is its repo-relative path."""
    top_dir = rel.split("/")[0]
    out: list[Violation] = []
    for name, line, in_function in _imports(ast.parse(source, filename=rel), rel):
        top = name.split(".")[0]
        if top_dir == "pneumo" and top in QT | TF | STAGES:
            if not (rel == DISPATCHER and in_function):
                out.append(Violation(rel, line, name, "core must not import Qt, TF or stages"))
        elif top_dir == "desktop" and top in TF:
            out.append(Violation(rel, line, name, "the app must not import TensorFlow/Keras"))
        elif top_dir in STAGES and top in STAGES and top != top_dir:
            out.append(Violation(rel, line, name, "stages must not import each other"))
    return out


def find_violations(root: Path = REPO_ROOT) -> list[Violation]:
    """Violations in every ``.py`` file under the checked top-level folders."""
    out: list[Violation] = []
    for folder in ("pneumo", *sorted(STAGES)):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            out.extend(check_source(path.read_text(encoding="utf-8"), rel))
    return out


# -- the tree ---------------------------------------------------------------------
def test_current_tree_follows_the_rules() -> None:
    assert [str(v) for v in find_violations()] == []


def test_core_import_loads_no_heavy_modules() -> None:
    code = (
        "import sys, json\n"
        "import pneumo, pneumo.cli, pneumo.scanning.pipeline, pneumo.model.runner, pneumo.films.imaging\n"
        "import pneumo.checks.gate, pneumo.results.records, pneumo.model.locate, pneumo.util.progress\n"
        "heavy = ('PySide6', 'tensorflow', 'keras', 'train', 'convert', 'desktop')\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_running_a_model_loads_no_tensorflow(tmp_path_factory: pytest.TempPathFactory) -> None:
    pytest.importorskip("tensorflow")
    from tests.tinymodel import cached_tiny_tflite

    model = cached_tiny_tflite(tmp_path_factory.getbasetemp())
    code = (
        "import sys, json, numpy as np\n"
        "from pneumo.model.runner import ModelRunner\n"
        f"r = ModelRunner({str(model)!r})\n"
        "r.predict(np.zeros((r.input_size, r.input_size, 1), np.float32))\n"
        "print(json.dumps([m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


# -- the checker itself -------------------------------------------------------------
@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("pneumo/foo.py", "import tensorflow as tf\n"),
        ("pneumo/foo.py", "def f():\n    from keras import layers\n"),
        ("pneumo/foo.py", "class A:\n    def m(self):\n        import PySide6.QtCore\n"),
        ("pneumo/foo.py", "from train.models import build\n"),
        ("pneumo/foo.py", "import importlib\nmod = importlib.import_module('tensorflow')\n"),
        ("pneumo/foo.py", "if True:\n    import tensorflow\n"),
        ("pneumo/cli.py", "import tensorflow\n"),
        ("pneumo/cli.py", "from desktop.app import main\n"),
        ("desktop/app.py", "def f():\n    import keras\n"),
        ("desktop/app.py", "from tensorflow import lite\n"),
        ("convert/cli.py", "from train.models import ARCHITECTURES\n"),
        ("convert/sub/x.py", "from ...train import models\n"),
        ("train/fit.py", "def f():\n    from desktop import app\n"),
        ("desktop/app.py", "from convert.cli import main\n"),
    ],
)
def test_checker_flags_violations(rel: str, source: str) -> None:
    assert len(check_source(source, rel)) == 1


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("pneumo/cli.py", "def _stage_gui(argv):\n    from desktop.app import main\n"),
        ("pneumo/cli.py", "def _stage_train(argv):\n    from train.cli import main\n"),
        ("pneumo/foo.py", "import numpy\nfrom pneumo.errors import ModelError\nfrom . import x\n"),
        ("pneumo/foo.py", "import tensorflow_probability_is_not_tf_but_rare as t\n"),
        ("train/fit.py", "import keras\nimport tensorflow as tf\nfrom train.models import m\n"),
        ("convert/cli.py", "import tensorflow as tf\nfrom pneumo.model.card import ModelCard\n"),
        (
            "desktop/app.py",
            "from PySide6 import QtWidgets\nfrom pneumo.model.runner import ModelRunner\n",
        ),
        ("desktop/widgets/x.py", "from .. import app\nfrom ..app import main\n"),
    ],
)
def test_checker_accepts_allowed_imports(rel: str, source: str) -> None:
    assert check_source(source, rel) == []


def test_checker_resolves_relative_imports() -> None:
    assert _imports(ast.parse("from ..train import models\n"), "convert/sub/x.py")[0][0] == (
        "convert.train"
    )
    assert _imports(ast.parse("from . import x\n"), "pneumo/foo.py")[0][0] == "pneumo"
    v = check_source("from ...train import models\n", "convert/sub/x.py")
    assert [x.imported for x in v] == ["train"]
