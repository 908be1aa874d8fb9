"""The ``pneumo`` command: the dispatcher of every subcommand.

The core commands (``scan``, ``info``, ``history``, ``listen``, ...) are parsed
by :mod:`pneumo.commands.parsers` and run from their own module in
:mod:`pneumo.commands`, imported only when run. ``pneumo
train|ensemble|convert|evaluate|gui ARGS`` hand ``ARGS`` to the stage's own
``main`` (``train.cli``, ``convert.cli``, ``pneumo.commands.evaluate``,
``desktop.app``), imported only when asked for, so that ``pneumo scan`` never
loads TensorFlow or Qt; this module is the only one that reaches into a stage.

Exit codes: 0 success; 1 a runtime error, or (``scan``) some files could not
be classified while the others were still reported; 2 a usage error,
including ``scan`` paths that contain no image files at all; 130 interrupted.
Every :class:`~pneumo.errors.PneumoError` is one ``pneumo: error: ...`` line
on standard error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pneumo import __version__
from pneumo.commands.parsers import add_core_commands, add_model_commands
from pneumo.errors import PneumoError, UsageError

_TF_HINT = "pip install 'pneumoscan[train]'"


# -- stage dispatch (the only place where heavy stages are imported) ----------
def _stage_train(argv: list[str]) -> Any:
    from train.cli import main as stage_main

    return stage_main(argv)


def _stage_ensemble(argv: list[str]) -> Any:
    from train.ensemble import main as stage_main

    return stage_main(argv)


def _stage_convert(argv: list[str]) -> Any:
    from convert.cli import main as stage_main

    return stage_main(argv)


def _keras_loader(path: Path) -> Callable[[Any], Any]:
    from train.predict import load_keras_predictor

    return load_keras_predictor(path)


def _stage_evaluate(argv: list[str]) -> Any:
    from pneumo.commands.evaluate import main as stage_main

    return stage_main(argv, keras_loader=_keras_loader)


def _stage_gui(argv: list[str]) -> Any:
    from desktop.app import main as stage_main

    return stage_main(argv)


def _layer_cams(keras_file: Path, model_input: Any) -> Any:
    """Grad-CAM at every convolution layer of a Keras model (``pneumo explain --layers``)."""
    try:
        from convert.layer_cam import layer_gradcams
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise UsageError(f"pneumo explain --layers needs TensorFlow: {_TF_HINT}") from None
        raise
    return layer_gradcams(keras_file, model_input)


def _explain(args: argparse.Namespace) -> int:
    from pneumo.commands.explain import explain_command

    return explain_command(args, layer_cams=_layer_cams)


STAGES: dict[str, tuple[Callable[[list[str]], Any], str, str]] = {
    "gui": (_stage_gui, "desktop.app", "open the desktop app"),
    "train": (_stage_train, "train.cli", "train a model (needs TensorFlow)"),
    "ensemble": (_stage_ensemble, "train.ensemble",
                 "merge trained runs into one logit-averaging model (needs TensorFlow)"),
    "convert": (_stage_convert, "convert.cli",
                "convert a trained model to LiteRT (.tflite; needs TensorFlow)"),
    "evaluate": (_stage_evaluate, "pneumo.commands.evaluate",
                 "evaluate a model on labelled folders"),
}


def _run_stage(name: str, argv: list[str]) -> int:
    func, module, _ = STAGES[name]
    try:
        rc = func(argv)
    except SystemExit as exc:
        return _exit_code(exc)
    except ImportError as exc:
        missing = exc.name or ""
        top = missing.split(".")[0]
        if top in ("tensorflow", "keras", "tf_keras"):
            _error(f"pneumo {name} needs TensorFlow: {_TF_HINT}")
            return 2
        if top in ("PySide6", "shiboken6"):
            _error(f"pneumo {name} needs Qt: pip install PySide6-Essentials")
            return 2
        if missing and (module == missing or module.startswith(missing + ".")):
            _error(f"pneumo {name} is not available: module {module} is not installed")
            return 1
        raise
    return int(rc or 0)


def build_parser() -> argparse.ArgumentParser:
    """The ``pneumo`` argument parser (stage subcommands are listed, not parsed)."""
    parser = argparse.ArgumentParser(
        prog="pneumo",
        description="PneumoScan: offline pneumonia screening of chest X-rays "
        "(a research tool, not a medical device).",
    )
    parser.add_argument("--version", action="version", version=f"pneumo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_core_commands(sub, explain=_explain)
    for name, (_, _, help_text) in STAGES.items():  # gui, then the model's life cycle
        stage = sub.add_parser(name, help=help_text, add_help=False)
        stage.add_argument("args", nargs=argparse.REMAINDER)
    add_model_commands(sub)
    return parser


# -- main -----------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run ``pneumo`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in STAGES:
            return _run_stage(args_list[0], args_list[1:])
        parser = build_parser()
        try:
            args = parser.parse_args(args_list)
        except SystemExit as exc:
            return _exit_code(exc)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args))
    except PneumoError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print("\npneumo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1


def _error(message: str) -> None:
    from pneumo.util.text import error_line

    print(error_line(message), file=sys.stderr)


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 2


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


__all__ = ["STAGES", "build_parser", "main"]
