"""``pneumo listen``: receive films over DICOM (C-STORE), classify them as they
arrive, record them in the result store and, with ``--forward``, send the SR
and SC of each result to a PACS. Stops cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def listen_command(args: argparse.Namespace) -> int:
    """Run the listener until SIGTERM or Ctrl-C; print a line per film."""
    from pneumo.commands.outputs import open_store_or_warn, warn
    from pneumo.model.locate import default_model_path
    from pneumo.model.runner import ModelRunner
    from pneumo.network.forward import Destination, check_ae_title
    from pneumo.network.listener import Listener, ListenerConfig
    from pneumo.results.records import ScanRecord, format_record
    from pneumo.results.store import user_data_dir

    aet = check_ae_title(args.ae_title)
    allowed = tuple(check_ae_title(a) for a in args.allow_ae or ())
    config = ListenerConfig(
        directory=Path(args.dir) if args.dir else user_data_dir() / "listener",
        host=args.host, port=args.port, ae_title=aet, allowed_aes=allowed,
        forward=Destination.parse(args.forward) if args.forward else None,
        max_association_bytes=args.max_association_mb << 20,
        threshold=args.threshold, workers=args.workers,
    )
    runner = ModelRunner(Path(args.model) if args.model else default_model_path())
    store = open_store_or_warn(args)
    if store is None:
        warn("no results store: results are printed only, and films received before a "
             "kill are not classified again at the next start")

    def show(record: ScanRecord) -> None:
        print(format_record(record), flush=True)

    listener = Listener(config, runner, store, on_record=show, log=warn)
    listener.start()
    host, port = listener.address
    if not _is_loopback(host):
        warn(f"listening on {host}, reachable from the network: films may come from any "
             "machine that can reach this port" + ("" if allowed else
                                                   " (no --allow-ae list)"))
    print(f"pneumo listen: AE title {aet} on {host}:{port}, films kept in "
          f"{listener.inbox.root}" + (f", results sent to {config.forward}"
                                      if config.forward else ""), file=sys.stderr, flush=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        print("pneumo listen: stopping (saving and classifying what is in flight)",
              file=sys.stderr, flush=True)
        stats = listener.stop()
        if store is not None:
            store.close()
    print(f"pneumo listen: stopped; {stats.received} received, {stats.classified} classified, "
          f"{stats.refused} refused, {stats.rejected_associations} associations rejected, "
          f"{stats.sent} results sent", file=sys.stderr, flush=True)
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
