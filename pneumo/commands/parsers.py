"""The argument parsers of the core ``pneumo`` commands, and their value types.

:func:`add_core_commands` adds the commands of whoever reads films (``scan``,
``explain``, ``history``, ``listen``, ``info``, ``self-test``) and
:func:`add_model_commands` those of whoever owns the models (``fit-ood``,
``fit-population``, ``bind``) to the dispatcher's subparsers; each command's
function is imported only when it runs (:func:`lazy`). The stages (``gui``,
``train``, ``convert``, ...) are added by :mod:`pneumo.cli`, the only module
that may import them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Command = Callable[[argparse.Namespace], int]


def lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command function imported only when the command runs."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        func: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), name)
        return int(func(args))

    return run


def _in_range(text: str, kind: type[int | float], low: float,
              high: float | None) -> int | float:
    """``text`` as an int or float from ``low`` to ``high`` (None: no upper bound),
    or an :class:`argparse.ArgumentTypeError` saying what is wrong."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
    if high is None and value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low:g}, got {text}")
    if high is not None and not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {text}")
    return value


def threshold_value(text: str) -> float:
    """A decision threshold, 0 to 1 (``--threshold``)."""
    return float(_in_range(text, float, 0, 1))


def workers_value(text: str) -> int:
    """A number of worker processes or threads, 1 to 64 (``--workers``)."""
    return int(_in_range(text, int, 1, 64))


def positive_int(text: str) -> int:
    """An integer of at least 1 (``--limit``, ``--max-association-mb``)."""
    return int(_in_range(text, int, 1, None))


def count_value(text: str) -> int:
    """A count from 0 to 64 (``--variants``)."""
    return int(_in_range(text, int, 0, 64))


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (``--port``)."""
    return int(_in_range(text, int, 0, 65535))


STORE_HELP = ("the results store (default: $PNEUMO_STORE, else results.sqlite3 in the "
              "user data folder)")


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--store FILE`` or ``--no-store``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--store", metavar="FILE", help=STORE_HELP)
    group.add_argument("--no-store", action="store_true",
                       help="neither read nor write the results store")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--model FILE``, ``--threshold T`` and ``--workers N``: how a command classifies."""
    parser.add_argument("--model", metavar="FILE",
                        help="a .tflite classifier (default: $PNEUMO_MODEL, else the shipped one)")
    parser.add_argument("--threshold", type=threshold_value, metavar="T",
                        help="decision threshold from 0 to 1 instead of the model card's")
    parser.add_argument("--workers", type=workers_value, default=2, metavar="N",
                        help="decoding processes (2)")


def add_core_commands(sub: Any, *, explain: Command) -> None:
    """Add the commands that read films to ``sub`` (an ``add_subparsers`` result);
    ``explain`` runs ``pneumo explain`` (the dispatcher lends it the stage that
    draws per-layer maps)."""
    _add_scan(sub)
    _add_explain(sub, explain)
    _add_history(sub)
    _add_listen(sub)
    info = sub.add_parser(
        "info",
        help="show the models in use and their checks",
        description="Show where the models are, each file's kind, size, threshold and test "
        "figures, whether its sha256 and card binding match the model card (exit 1 when a "
        "file is refused), and the card's reliability checks and calibration.",
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=lazy("pneumo.commands.info", "info_command"))
    self_test = sub.add_parser(
        "self-test",
        help="check this installation (models, DICOM decoders, Qt)",
        description="Check the shipped models against their card's sha256, run one inference "
        "on each, decode a small DICOM film in every supported transfer syntax and open the "
        "app's window offscreen. One line per check; exit 0 only when all pass.",
    )
    self_test.add_argument("--no-window", action="store_true",
                           help="skip the window check (a machine without Qt's libraries)")
    self_test.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS",
                           help="how long the window check may take (180)")
    self_test.set_defaults(func=lazy("pneumo.commands.self_test", "self_test_command"))


def _add_scan(sub: Any) -> None:
    scan = sub.add_parser(
        "scan",
        help="classify image files and folders",
        description="Classify chest X-rays (PNG, JPEG, TIFF, BMP, DICOM): one line per file, "
        "then a summary. Folders are walked recursively. Results are kept in the results "
        "store, and files it already knows are answered from it. Patient ID and name are left "
        "out of exports unless --include-identifiers is given. Exit status: 0 all classified, "
        "1 some files failed (the rest are still reported), 2 usage error or no image files "
        "found.",
    )
    scan.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    scan.add_argument("--json", metavar="FILE|-", help="write results as JSON ('-': stdout)")
    scan.add_argument("--csv", metavar="FILE", help="write results as CSV")
    add_model_options(scan)
    scan.add_argument("--include-identifiers", action="store_true",
                      help="include patient ID and name in JSON/CSV exports")
    scan.add_argument("--dicom-out", metavar="DIR",
                      help="write a DICOM SR and a Secondary Capture for each classified "
                      "DICOM film into DIR (PNG/JPEG inputs are skipped)")
    add_store_options(scan)
    scan.add_argument("--no-cache", action="store_true",
                      help="classify every file again, even those the store already knows")
    scan.set_defaults(func=lazy("pneumo.commands.scan", "scan_command"))


def _add_explain(sub: Any, explain: Command) -> None:
    explain_cmd = sub.add_parser(
        "explain",
        help="write a picture of one film's result and Grad-CAM heat map",
        description="Write the film with its Grad-CAM heat map (from the float LiteRT model) "
        "and the result (label, probability, threshold) burnt into a caption, as PNG. "
        "--layers animates Grad-CAM through every convolution layer of the Keras model "
        "(needs TensorFlow: the train extra). Outputs are written atomically and never "
        "over the input.",
    )
    explain_cmd.add_argument("file", metavar="FILE",
                             help="one image file (PNG, JPEG, TIFF, BMP, DICOM)")
    explain_cmd.add_argument("--out", metavar="OVERLAY.png",
                             help="the picture (default: ./<stem>_explain.png; with --layers: "
                             "none)")
    explain_cmd.add_argument("--model", metavar="FILE",
                             help="the classifier .tflite (default: $PNEUMO_MODEL, else the "
                             "shipped one)")
    explain_cmd.add_argument("--layers", action="store_true",
                             help="animate Grad-CAM through the Keras model's convolution "
                             "layers")
    explain_cmd.add_argument("--gif", metavar="OUT.gif",
                             help="where --layers writes the animation (default: "
                             "./<stem>_layers.gif)")
    explain_cmd.set_defaults(func=explain)


def _add_history(sub: Any) -> None:
    history = sub.add_parser(
        "history",
        help="list earlier results and the audit trail",
        description="List the results and audit rows (scans, exports, threshold overrides, "
        "model changes) kept in the results store; PATH narrows them to a file (by path or "
        "contents) or a folder.",
    )
    history.add_argument("path", nargs="?", metavar="PATH", help="a film or folder")
    history.add_argument("--since", metavar="DATE", help="from this date (YYYY-MM-DD[THH:MM])")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.add_argument("--store", metavar="FILE", help=STORE_HELP)
    history.set_defaults(func=lazy("pneumo.commands.history", "history_command"))


def _add_listen(sub: Any) -> None:
    listen = sub.add_parser(
        "listen",
        help="receive films over DICOM (C-STORE) and classify them as they arrive",
        description="A DICOM Storage SCP: films sent to it are kept under --dir, classified "
        "like scanned files and recorded in the results store; with --forward the SR and SC "
        "of each result are sent to a PACS. Binds to 127.0.0.1 unless --host says otherwise. "
        "Stops cleanly on SIGTERM or Ctrl-C.",
    )
    listen.add_argument("--host", default="127.0.0.1",
                        help="address to bind (127.0.0.1; 0.0.0.0 for every interface)")
    listen.add_argument("--port", type=port_number, default=11112, help="TCP port (11112)")
    listen.add_argument("--ae-title", default="PNEUMOSCAN", metavar="AET",
                        help="our AE title (PNEUMOSCAN)")
    listen.add_argument("--allow-ae", nargs="+", metavar="AET",
                        help="accept associations only from these calling AE titles")
    listen.add_argument("--forward", metavar="HOST:PORT:AET",
                        help="send the SR and SC of each result to this PACS")
    listen.add_argument("--dir", metavar="DIR", help="where received films and results are "
                        "kept (default: the user data folder's listener/)")
    listen.add_argument("--max-association-mb", type=positive_int, default=4096, metavar="MB",
                        help="abort an association that sends more than this (4096)")
    add_model_options(listen)
    add_store_options(listen)
    listen.set_defaults(func=lazy("pneumo.commands.listen", "listen_command"))


def add_model_commands(sub: Any) -> None:
    """Add the commands that fit checks into a model folder and bind it to ``sub``."""
    fit_ood = sub.add_parser(
        "fit-ood",
        help="fit the out-of-distribution check and measure calibration",
        description="Fit the out-of-distribution score (Mahalanobis distance on the float "
        "model's embedding) on the training side of the card's patient split (with --variants, "
        "each film also as random variants), set its threshold on the validation films, "
        "measure calibration (ECE), and write both into "
        "ASSETS_DIR/model_card.json. The model files are not changed.",
    )
    fit_ood.add_argument("assets", metavar="ASSETS_DIR", help="folder with the models and card")
    fit_ood.add_argument("--data", required=True, metavar="DATA_DIR",
                         help="labelled data (train/, val/, test/ of NORMAL/ and PNEUMONIA/)")
    fit_ood.add_argument("--limit", type=positive_int, metavar="N",
                         help="use at most N training images")
    fit_ood.add_argument("--variants", type=count_value, default=0, metavar="N",
                         help="also fit on N random variants of each training film (crops, "
                         "borders, text, display curves, blur, rotation); 0, the shipped fit: "
                         "the films alone (0)")
    fit_ood.add_argument("--seed", type=int, default=0, metavar="S",
                         help="seed of the variants (0)")
    fit_ood.add_argument("--workers", type=workers_value, default=2, metavar="N",
                         help="decoding threads (2)")
    fit_ood.set_defaults(func=lazy("pneumo.commands.fit_ood", "fit_ood_command"))
    fit_pop = sub.add_parser(
        "fit-population",
        help="fit the population check (is a film like the training children?)",
        description="Fit the population check: a logistic model on the float model's "
        "embedding, the training side of the card's patient split (inside) against the "
        "train/ films of OUTSIDE_DIR split by patient (outside, e.g. adults), each film also "
        "seen under random crops, display curves, borders and burned-in text; threshold on "
        "the inside validation films. Writes ASSETS_DIR/model_card.json; the model files "
        "are not changed; no test/ folder is read.",
    )
    fit_pop.add_argument("assets", metavar="ASSETS_DIR", help="folder with the models and card")
    fit_pop.add_argument("--data", required=True, metavar="DATA_DIR",
                         help="the training data set (train/ of NORMAL/ and PNEUMONIA/)")
    fit_pop.add_argument("--outside", required=True, metavar="OUTSIDE_DIR",
                         help="films of another population (its train/ is used)")
    fit_pop.add_argument("--l2", type=float, default=10.0, metavar="LAMBDA",
                         help="L2 strength (10)")
    fit_pop.add_argument("--seed", type=int, default=0, metavar="S",
                         help="split and variant seed (0)")
    fit_pop.add_argument("--workers", type=workers_value, default=2, metavar="N",
                         help="decoding threads (2)")
    fit_pop.set_defaults(func=lazy("pneumo.commands.fit_population", "fit_population_command"))
    bind = sub.add_parser(
        "bind",
        help="bind a model folder's card to its model files",
        description="Write the card's decision fields (labels, each file's threshold, "
        "preprocessing, model roles) into each .tflite file the card lists, and update the "
        "card's sha256 entries; models are refused at load when their card no longer matches. "
        "Only files whose sha256 matches the card are bound. For model folders converted "
        "before bindings existed.",
    )
    bind.add_argument("folder", nargs="?", metavar="FOLDER",
                      help="folder with the models and card (default: the shipped assets)")
    bind.add_argument("--force", action="store_true",
                      help="re-bind files whose card was edited since (vouch for the card as is)")
    bind.set_defaults(func=lazy("pneumo.commands.bind", "bind_command"))
