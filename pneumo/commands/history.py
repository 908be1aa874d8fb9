"""``pneumo history [PATH] [--since DATE] [--json]``: the results and the audit
trail kept in the result store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pneumo.errors import PneumoError


def history_command(args: argparse.Namespace) -> int:
    """List results and audit rows (all, or about PATH, from --since on)."""
    from pneumo.results.history import load_history, local_time, parse_since
    from pneumo.results.store import ResultStore, StoreError, default_store_path

    since = parse_since(args.since) if args.since else None
    path = default_store_path() if args.store is None else args.store
    if not Path(path).is_file():
        raise PneumoError(f"{path}: no results store yet (nothing has been scanned with it)")
    try:
        store = ResultStore(path)
    except StoreError as exc:
        raise PneumoError(str(exc)) from None
    if store.notice:
        from pneumo.commands.outputs import warn

        warn(store.notice)
    with store:
        history = load_history(store, args.path, since)
    if args.json:
        data = {"store": str(store.path), **history.to_dict()}
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return 0
    print(f"results ({len(history.results)}) in {store.path}")
    for r in history.results:
        outcome = (f"{r.label or '':<10} {r.probability:6.3f}" if r.probability is not None
                   else f"{'ERROR':<10} {'':>6}")
        note = f": {r.error}" if r.error else ""
        when = local_time(r.time, seconds=True)
        print(f"  {when}  {r.user:<10} {outcome}  model {r.model_sha256[:12]}  {r.path}{note}")
    print(f"audit trail ({len(history.events)})")
    for e in history.events:
        detail = ", ".join(f"{k}={_short(v)}" for k, v in sorted(e.detail.items()))
        where = f" {e.path}" if e.path else ""
        model = f" model {e.model_sha256[:12]}" if e.model_sha256 else ""
        when = local_time(e.time, seconds=True)
        print(f"  {when}  {e.user:<10} {e.action}{where}{model}  {detail}")
    return 0


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
