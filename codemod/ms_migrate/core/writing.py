"""Signals never leave a file half-written or a temp file behind.

`install()` turns SIGINT and SIGTERM into an `Interrupted` exception (a KeyboardInterrupt), in
the main process and in every worker. Inside `critical()` (an atomic write: temp file, fsync,
rename) a signal is only noted, and raised when the section ends, so a file is always either
the original or the complete migration. The command exits 128 + the signal number (130 for
SIGINT, 143 for SIGTERM), as shells do."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_depth = 0
_pending: List[int] = []


def _handler(signum: int, frame: object) -> None:
    if _depth:
        _pending.append(signum)
        return
    raise Interrupted(signum)


def install() -> Dict[int, object]:
    """Handle SIGINT and SIGTERM (main thread only, as Python requires); the handlers that
    were there before, for `restore`."""
    previous: Dict[int, object] = {}
    for signum in SIGNALS:
        try:
            previous[signum] = signal.signal(signum, _handler)
        except ValueError:  # not the main thread (an embedding caller): leave them alone
            pass
    return previous


def restore(previous: Dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


@contextmanager
def critical() -> Iterator[None]:
    """Defer SIGINT/SIGTERM until the block is done (or has failed and cleaned up)."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
    if not _depth and _pending:
        signum: Optional[int] = _pending[0]
        _pending.clear()
        raise Interrupted(signum)  # type: ignore[arg-type]


def install_worker() -> None:
    """In a worker process: Ctrl-C (sent to the whole process group) is the main process's
    to handle, which lets the file in hand finish; SIGTERM stops between writes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _handler)
