"""``pneumo self-test``: can this installation do its job? One line per check.

Checks the shipped models against their card's sha256, runs one inference on
each, decodes a small DICOM film in every supported transfer syntax, and opens
the app's window on Qt's offscreen platform (see :mod:`pneumo.selftest.checks`).
Exit 0 only when every check passes, else 1.
"""

from __future__ import annotations

import argparse
import sys

from pneumo import __version__


def self_test_command(args: argparse.Namespace) -> int:
    """Run every check, print one line each and a summary; 0 when all pass."""
    from pneumo.model.locate import assets_dir
    from pneumo.selftest.checks import decode_checks, model_checks, sample_film, window_check

    folder = assets_dir()
    frozen = " (bundle)" if getattr(sys, "frozen", False) else ""
    print(f"pneumo self-test: pneumo {__version__}{frozen}, Python {sys.version.split()[0]}, "
          f"models in {folder}", flush=True)
    results = []
    for group in (lambda: model_checks(folder), decode_checks):
        for result in group():
            print(result.line(), flush=True)
            results.append(result)
    if not args.no_window:
        result = window_check(sample_film(folder), timeout=args.timeout)
        print(result.line(), flush=True)
        results.append(result)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} checks FAILED")
        return 1
    print(f"all {len(results)} checks passed")
    return 0
