"""Layering rules: the core and the app never pull in heavy stages.

The rules are import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``):

* ``pneumo/`` imports neither Qt nor TensorFlow/Keras, nor the stage packages
  ``train``/``convert``/``desktop`` -- except the dispatcher ``pneumo/cli.py``,
  which imports the stages inside functions;
* ``desktop/`` never imports TensorFlow/Keras;
* ``train/``, ``convert/`` and ``desktop/`` do not import each other;
* the menus (``desktop.actions``) do not import the main window.

``lint-imports`` checks them here, on the tree and on copies of it with a
deliberately broken import. Two things import-linter cannot see are checked
from the same contracts by a small AST pass: imports by a literal name through
``importlib.import_module``/``__import__``, and that the imports a contract
lets through (``ignore_imports``, the dispatcher's) sit inside functions, so
that they stay lazy. Last, importing the core in a fresh interpreter loads
nothing heavy.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import pytest

from tests.subproc import REPO_ROOT, run_python

PACKAGES = ("pneumo", "train", "convert", "desktop")
_LINT = ("import sys; from importlinter.cli import lint_imports_command as main; "
         "sys.argv[0] = 'lint-imports'; main()")


# -- import-linter ----------------------------------------------------------------
def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the tree at ``root`` (its pyproject.toml, its packages)."""
    pytest.importorskip("importlinter")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", _LINT, "--no-cache", "--no-logo"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def contract_names(root: Path = REPO_ROOT) -> dict[str, str]:
    """Contract id -> name, from ``pyproject.toml``."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c["name"] for c in config["tool"]["importlinter"]["contracts"]}


def test_lint_imports_passes_on_the_tree() -> None:
    proc = lint_imports(REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in contract_names().values():
        assert f"{name} KEPT" in proc.stdout


@pytest.fixture()
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the packages and pyproject.toml, free to break."""
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("rel", "source", "contract"),
    [
        ("pneumo/films/leak.py", "import PySide6.QtCore\n", "core-no-qt-no-tf"),
        ("pneumo/leak.py", "def f():\n    from keras import layers\n", "core-no-qt-no-tf"),
        ("pneumo/model/leak.py", "from desktop.viewer import window_lut\n",
         "core-no-qt-no-tf"),  # indirectly: desktop.viewer imports Qt
        ("pneumo/leak.py", "from train import models\n", "core-no-stages"),
        ("pneumo/cli.py", "import PySide6\n", "core-no-qt-no-tf"),  # the exception is stages
        ("desktop/leak.py", "import tensorflow as tf\n", "app-no-tf"),
        ("convert/leak.py", "from desktop import app\n", "stages-independent"),
        ("train/leak.py", "from convert import tflite\n", "stages-independent"),
        ("desktop/actions.py", "from desktop import main_window\n", "menus-through-the-host"),
    ],
)
def test_a_broken_import_fails_lint_imports(tree_copy: Path, rel: str, source: str,
                                            contract: str) -> None:
    path = tree_copy / rel
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(before + source, encoding="utf-8")
    proc = lint_imports(tree_copy)
    assert proc.returncode != 0, proc.stdout
    assert f"{contract_names(tree_copy)[contract]} BROKEN" in proc.stdout
    assert rel.removesuffix(".py").replace("/", ".") in proc.stdout  # names the culprit


# -- what import-linter cannot see ----------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """Modules under ``sources`` must not import modules under ``forbidden``."""

    contract: str
    sources: tuple[str, ...]
    forbidden: tuple[str, ...]


@dataclass(frozen=True)
class Contracts:
    """The rules of ``[tool.importlinter]`` and the imports they let through."""

    rules: tuple[Rule, ...]
    ignored: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]

    @classmethod
    def load(cls, root: Path = REPO_ROOT) -> Contracts:
        """Read the contracts of ``root/pyproject.toml``."""
        config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        rules: list[Rule] = []
        ignored: list[tuple[re.Pattern[str], re.Pattern[str]]] = []
        for c in config["tool"]["importlinter"]["contracts"]:
            if c["type"] == "forbidden":
                rules.append(Rule(c["id"], tuple(c["source_modules"]),
                                  tuple(c["forbidden_modules"])))
            elif c["type"] == "independence":
                rules += [Rule(c["id"], (a,), (b,)) for a, b in permutations(c["modules"], 2)]
            for pattern in c.get("ignore_imports", ()):
                importer, imported = (_pattern(p.strip()) for p in pattern.split("->"))
                ignored.append((importer, imported))
        return cls(tuple(rules), tuple(ignored))

    def is_ignored(self, importer: str, imported: str) -> bool:
        """True when some contract lets ``importer -> imported`` through."""
        return any(a.fullmatch(importer) and b.fullmatch(imported) for a, b in self.ignored)


def _pattern(text: str) -> re.Pattern[str]:
    """An import-linter module pattern (``*`` one level, ``**`` any) as a regex."""
    parts = [{"*": r"[^.]+", "**": r".+"}.get(p, re.escape(p)) for p in text.split(".")]
    return re.compile(r"\.".join(parts))


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@dataclass(frozen=True)
class Violation:
    """One import the contracts forbid, or a let-through import that is not lazy."""

    file: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: imports {self.imported} ({self.rule})"


@dataclass(frozen=True)
class FoundImport:
    """An import statement or a call importing a literal module name."""

    name: str
    line: int
    in_function: bool
    dynamic: bool


def _literal_import(node: ast.AST) -> str | None:
    """The module a call like ``importlib.import_module("x")`` imports, if literal."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return None
    func = node.func
    if (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
            isinstance(func, ast.Name) and func.id in ("__import__", "import_module")):
        return node.args[0].value
    return None


def find_imports(tree: ast.AST, module: str) -> list[FoundImport]:
    """Every import in a module's tree; relative imports made absolute."""
    found: list[FoundImport] = []
    package = module.split(".")[:-1]

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(FoundImport(a.name, node.lineno, in_function, False) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            found.append(FoundImport(name, node.lineno, in_function, False))
        elif (name := _literal_import(node)) is not None:
            found.append(FoundImport(name, node.lineno, in_function, True))
        nested = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                  ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, nested)

    visit(tree, False)
    return found


def check_source(source: str, rel: str, contracts: Contracts) -> list[Violation]:
    """What lint-imports misses in one file: forbidden imports by a literal name,
    and imports a contract lets through that are not inside a function."""
    module = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    out: list[Violation] = []
    for imp in find_imports(ast.parse(source, filename=rel), module):
        if contracts.is_ignored(module, imp.name):
            if not imp.in_function:
                out.append(Violation(rel, imp.line, imp.name, "let through only when lazy"))
            continue
        if not imp.dynamic:
            continue  # lint-imports checks import statements
        out += [Violation(rel, imp.line, imp.name, r.contract) for r in contracts.rules
                if _under(module, r.sources) and _under(imp.name, r.forbidden)]
    return out


def find_violations(root: Path = REPO_ROOT) -> list[Violation]:
    """:func:`check_source` over every ``.py`` file of the packages."""
    contracts = Contracts.load(root)
    out: list[Violation] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            out += check_source(path.read_text(encoding="utf-8"), rel, contracts)
    return out


def test_tree_has_no_hidden_or_eager_stage_imports() -> None:
    assert [str(v) for v in find_violations()] == []


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("pneumo/foo.py", "import importlib\nmod = importlib.import_module('tensorflow')\n"),
        ("pneumo/foo.py", "def f():\n    return __import__('PySide6.QtCore')\n"),
        ("pneumo/foo.py", "from importlib import import_module\nimport_module('train.cli')\n"),
        ("desktop/app.py", "import importlib\nimportlib.import_module('keras')\n"),
        ("train/fit.py", "import importlib\nimportlib.import_module('desktop.app')\n"),
        ("pneumo/cli.py", "from desktop.app import main\n"),  # let through, but not lazy
        ("pneumo/cli.py", "import importlib\nimportlib.import_module('train.cli')\n"),
    ],
)
def test_checker_flags_what_lint_imports_misses(rel: str, source: str) -> None:
    assert len(check_source(source, rel, Contracts.load())) == 1


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("pneumo/cli.py", "def _stage_gui(argv):\n    from desktop.app import main\n"),
        ("pneumo/cli.py", "def f():\n    import importlib\n    importlib.import_module('train.cli')\n"),
        ("pneumo/foo.py", "import importlib\nimportlib.import_module('pneumo.films.dicom')\n"),
        ("train/fit.py", "import importlib\nimportlib.import_module('keras')\n"),
        ("pneumo/foo.py", "import tensorflow\n"),  # a static import: lint-imports' part
    ],
)
def test_checker_accepts_allowed_imports(rel: str, source: str) -> None:
    assert check_source(source, rel, Contracts.load()) == []


def test_checker_reads_the_contracts() -> None:
    contracts = Contracts.load()
    assert contracts.is_ignored("pneumo.cli", "desktop.app")
    assert not contracts.is_ignored("pneumo.cli", "PySide6")
    assert not contracts.is_ignored("pneumo.scanning.pipeline", "train.cli")
    found = find_imports(ast.parse("from ..train import models\n"), "convert.sub.x")
    assert found[0].name == "convert.train"


# -- at run time --------------------------------------------------------------------
def test_core_import_loads_no_heavy_modules() -> None:
    code = (
        "import sys, json\n"
        "import pneumo, pneumo.cli, pneumo.scanning.pipeline, pneumo.model.runner, pneumo.films.imaging\n"
        "import pneumo.checks.gate, pneumo.results.records, pneumo.model.locate, pneumo.util.atomic\n"
        "import pneumo.results.display\n"
        "heavy = ('PySide6', 'tensorflow', 'keras', 'train', 'convert', 'desktop')\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_running_a_model_loads_no_tensorflow(float_model: Path) -> None:
    code = (
        "import sys, json, numpy as np\n"
        "from pneumo.model.runner import ModelRunner\n"
        f"r = ModelRunner({str(float_model)!r})\n"
        "r.predict(np.zeros((r.input_size, r.input_size, 1), np.float32))\n"
        "print(json.dumps([m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
