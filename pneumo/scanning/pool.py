"""A pool of decoding worker processes that survives what a decoder does.

:class:`DecoderPool` runs jobs (module-level functions, usually
:func:`pneumo.scanning.prepare.prepare`) in worker processes
(:mod:`pneumo.scanning.worker`) and hands back a
:class:`concurrent.futures.Future` per job. A worker that dies while decoding
(an abort in a C++ decoder, a segmentation fault, the kernel killing it for
memory) or that runs past ``task_timeout_s`` fails that one job with
:class:`WorkerCrashed`; the jobs queued behind it go to other workers and a
new worker takes its place. Each worker holds at most two jobs (the one it
runs and the next), so the results it sends back keep coming while the
parent dispatches.

Processes, not threads: measured with ``bench/bench_scan.py``, and needed
anyway so that a native crash costs one file. Workers start from a
``forkserver`` (:mod:`pneumo.scanning.processes`), never by forking the
caller, which may run Qt threads. One
pool lives as long as the process (:func:`shared_pool`), so a scan, the next
scan and the app's viewer do not pay for starting workers again.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Self

from pneumo.films import limits
from pneumo.scanning.processes import (
    ask_to_stop,
    death_reason,
    kill,
    reap,
    start_context,
    start_worker,
)
from pneumo.scanning.worker import RETIRED, JobFailed, Outcome, WorkerCrashed, WorkerSettings

#: Jobs a worker holds at once: the running one and the next.
PREFETCH = 2
#: A job running longer than this is taken for a hung decoder.
TASK_TIMEOUT_S = 120.0
_PIPE_BROKE = "its pipe broke"
__all__ = ["DecoderPool", "JobFailed", "Outcome", "WorkerCrashed", "shared_pool"]


@dataclass(eq=False)
class _Task:
    id: int
    function: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Outcome]
    started: float | None = None
    running: bool = False


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    held: Any  # the budget's bytes it holds, shared with it (a multiprocessing value)
    tasks: deque[_Task] = field(default_factory=deque)
    killed: str | None = None


class DecoderPool:
    """Worker processes running decoding jobs; see the module docstring."""

    def __init__(self, workers: int = 2, *, task_timeout_s: float = TASK_TIMEOUT_S,
                 budget_bytes: int = limits.IN_FLIGHT_BYTES,
                 settings: WorkerSettings | None = None) -> None:
        self._ctx = start_context()
        self._target = max(1, int(workers))
        self._timeout = float(task_timeout_s)
        self._settings = settings or WorkerSettings(
            address_space_headroom=2 * limits.MAX_DECODE_BYTES + 512 * limits.MiB)
        self._budget = limits.MemoryBudget(self._ctx, budget_bytes)
        self._lock = threading.Lock()
        self._queue: deque[_Task] = deque()
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._closed = False
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self.crashes = 0
        self._thread = threading.Thread(target=self._run, name="pneumo-decoder-pool", daemon=True)
        self._thread.start()

    # -- public API ---------------------------------------------------------------
    @property
    def workers(self) -> int:
        """How many worker processes the pool keeps."""
        return self._target

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Outcome]:
        """Run ``function(*args)`` in a worker; ``function`` must be importable."""
        return self._enqueue([(function, args)], first=False)[0]

    def submit_first(self, function: Callable[..., Any], *args: Any) -> Future[Outcome]:
        """Like :meth:`submit`, ahead of every queued job (the film a user just opened)."""
        return self._enqueue([(function, args)], first=True)[0]

    def submit_all_first(self, *jobs: tuple[Callable[..., Any], tuple[Any, ...]]
                         ) -> list[Future[Outcome]]:
        """``(function, args)`` jobs ahead of every queued job, in the order given
        (the first goes to a worker first): one film's preview, image and heat map."""
        return self._enqueue(list(jobs), first=True)

    def _enqueue(self, jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]],
                 first: bool) -> list[Future[Outcome]]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the decoder pool is closed")
            tasks = [_Task(next(self._ids), function, args, Future()) for function, args in jobs]
            if first:
                self._queue.extendleft(reversed(tasks))
            else:
                self._queue.extend(tasks)
        self._wake()
        return [task.future for task in tasks]

    def resize(self, workers: int) -> None:
        """Keep ``workers`` processes from now on (extra ones stop when idle)."""
        with self._lock:
            self._target = max(1, int(workers))
        self._wake()

    def pids(self) -> list[int]:
        """Process ids of the live workers (for measuring memory)."""
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the workers (queued jobs are cancelled; running ones are abandoned)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        self._thread.join(timeout)

    # -- the broker thread -------------------------------------------------------------
    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"!")
        except OSError:
            pass

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    break
                if not self._staff():
                    continue
                self._dispatch()
                waitables: list[Connection | int] = [self._wake_r]
                for w in self._workers:
                    waitables += [w.conn, w.process.sentinel]
            ready = wait(waitables, timeout=self._next_deadline())
            with self._lock:
                if self._wake_r in ready:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                for w in list(self._workers):
                    if w.conn in ready or w.process.sentinel in ready:
                        self._collect(w)
                self._check_timeouts()
        self._shut_down()

    def _staff(self) -> bool:
        """Start workers up to the target; ask surplus idle ones to stop.

        False when no worker can be started: the queued jobs fail (so nobody
        waits forever) and the next try comes a second later.
        """
        live = [w for w in self._workers if w.killed is None]
        while len(live) > self._target:
            idle = next((w for w in reversed(live) if not w.tasks), None)
            if idle is None:
                break
            self._retire(idle)
            live.remove(idle)
        try:
            for _ in range(self._target - len(live)):
                self._workers.append(
                    _Worker(*start_worker(self._ctx, self._budget, self._settings)))
        except Exception as exc:  # noqa: BLE001 - out of processes, memory, file handles
            if self._workers:
                return True
            while self._queue:
                self._queue.popleft().future.set_exception(
                    WorkerCrashed(f"cannot start a decoder process ({exc})"))
            self._lock.release()
            try:
                time.sleep(1.0)
            finally:
                self._lock.acquire()
            return False
        return True

    def _dispatch(self) -> None:
        # An idle worker gets a job before a busy one gets its next: the jobs of
        # one opened film run side by side.
        for held in range(1, PREFETCH + 1):
            for w in self._workers:
                while w.killed is None and len(w.tasks) < held and self._queue:
                    self._send_next(w)

    def _send_next(self, w: _Worker) -> None:
        """Send the first queued job (not cancelled meanwhile) to ``w``."""
        task = self._queue.popleft()
        if not task.running:
            if not task.future.set_running_or_notify_cancel():
                return  # cancelled while queued
            task.running = True
        try:
            w.conn.send((task.id, task.function, task.args))
        except Exception as exc:  # noqa: BLE001 - a dead pipe, or unpicklable args
            if isinstance(exc, OSError):
                self._queue.appendleft(task)
                w.killed = w.killed or _PIPE_BROKE
                return
            task.future.set_exception(exc)
            return
        if not w.tasks:
            task.started = time.monotonic()
        w.tasks.append(task)

    def _collect(self, w: _Worker) -> None:
        """Read what ``w`` sent; if it died, fail its job and replace it."""
        ended = False
        try:
            while w.conn.poll():
                task_id, ok, value, messages = w.conn.recv()
                task = w.tasks.popleft() if w.tasks and w.tasks[0].id == task_id else None
                if task is None:
                    raise EOFError("out of step")
                if w.tasks:
                    w.tasks[0].started = time.monotonic()
                if ok:
                    task.future.set_result(Outcome(value, tuple(messages)))
                else:
                    task.future.set_exception(JobFailed(f"{value[0]}: {value[1]}"))
        except (EOFError, OSError, ValueError):
            ended = True
        if w.process.is_alive() and w.killed is None and not ended:
            return
        w.process.join(1.0)
        died = not w.process.is_alive()
        if not died:
            kill(w.process)
            w.process.join(1.0)
        # A job sent to a worker that had just crashed breaks the pipe: the crash
        # is what happened.
        self._bury(w, death_reason(w.process.exitcode)
                   if w.killed is None or (w.killed == _PIPE_BROKE and died) else w.killed)

    def _bury(self, w: _Worker, reason: str) -> None:
        self._workers.remove(w)
        self._budget.release(w.held.value, w.held)
        w.conn.close()
        if w.process.exitcode == RETIRED:  # it answered its last job, then left
            self._queue.extendleft(reversed(w.tasks))
        elif w.tasks:
            self.crashes += 1
            w.tasks.popleft().future.set_exception(WorkerCrashed(reason))
            self._queue.extendleft(reversed(w.tasks))  # innocent bystanders go first

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for w in self._workers:
            head = w.tasks[0] if w.tasks else None
            if w.killed is None and head and head.started and now - head.started > self._timeout:
                w.killed = f"decoder hung (no result after {self._timeout:.0f} s)"
                kill(w.process)

    def _next_deadline(self) -> float:
        starts = [w.tasks[0].started for w in self._workers if w.tasks and w.tasks[0].started]
        if not starts:
            return 5.0
        return max(0.05, min(starts) + self._timeout - time.monotonic())

    def _retire(self, w: _Worker) -> None:
        self._workers.remove(w)
        ask_to_stop(w.conn)
        w.conn.close()

    def _shut_down(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
            queued, self._queue = list(self._queue), deque()
        for task in queued:
            task.future.cancel()
        for w in workers:
            for task in w.tasks:
                if not task.future.done():
                    task.future.set_exception(WorkerCrashed("the decoder pool was closed"))
            ask_to_stop(w.conn)
        reap(w.process for w in workers)


_shared: DecoderPool | None = None
_shared_lock = threading.Lock()


def shared_pool(workers: int | None = None) -> DecoderPool:
    """The process-wide pool, started on first use (2 workers unless ``workers``
    says otherwise) and kept for later scans; ``workers`` resizes it."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = DecoderPool(workers or 2)
            atexit.register(_shared.close)  # before multiprocessing's own exit handler
        elif workers is not None and _shared.workers != workers:
            _shared.resize(workers)
        return _shared
