"""Shared pieces of the ``cartsim`` sub-commands: the stderr console, the output-folder
check, the progress bar and number formatting."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from numba.core import event as numba_event
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from sim.io.files import check_out_dir  # noqa: F401 - re-exported for the command modules

err = Console(stderr=True)
PIPE_WIDTH = 160  # columns for tables written to a file or pipe


def stdout_console() -> Console:
    """Console for results on stdout: the terminal's width, or ``PIPE_WIDTH`` columns
    when stdout is a file or pipe (rich would use 80 and truncate wide tables) unless
    COLUMNS says otherwise."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console()
    return Console(width=PIPE_WIDTH)


#: a table cell with no estimate (e.g. a landmark beyond the maximum follow-up); the reason goes beside it
NOT_ESTIMABLE = "\u2013"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def days(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.0f} d ({x / 30.4375:.1f} mo)"


class CountColumn(ProgressColumn):
    """``done/total unit``, or ``done unit`` while the total is not yet known (a task
    added with ``total=None``: rich cannot format ``None`` with a number format)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        text = done if task.total is None else f"{done}/{int(task.total):,}"
        return Text(f"{text} {self.unit}", style="progress.download")


def progress_bar(unit: str = "patients") -> Progress:
    """A transient progress bar on stderr (stdout stays clean for --json); works with
    and without a known total (an unknown total shows a pulsing bar)."""
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), CountColumn(unit),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)



class _CompileNotice(numba_event.Listener):
    """Says once, on stderr, that numba is compiling: the first compiled call after an
    install or an upgrade takes about a minute, and a progress bar sitting at 0 meanwhile
    looks frozen. numba raises the "numba:compile" event only when it really compiles (not
    when it loads its on-disk cache), and only at the first compiled call, i.e. after the
    command has checked its input: a bad input never sees the notice."""

    def __init__(self) -> None:
        self.told = False

    def on_start(self, event: numba_event.Event) -> None:  # noqa: ARG002 - the listener interface
        if not self.told:
            self.told = True
            err.print("cartsim: compiling the simulation code (first run only, about a minute) ...",
                      highlight=False)

    def on_end(self, event: numba_event.Event) -> None:
        pass


_NOTICE = _CompileNotice()


def announce_compilation() -> None:
    """Install the compile notice (once per process; the CLI does it at start)."""
    if _NOTICE not in numba_event._registered.get("numba:compile", []):  # type: ignore[attr-defined]
        numba_event.register("numba:compile", _NOTICE)


def say_chunks_kept(out: Path) -> None:
    """After an interrupted chunked run (sweep, psa): how many finished chunks are kept
    in ``out`` and how to continue."""
    from sim.io.chunks import ChunkStore  # noqa: PLC0415

    store = ChunkStore(out)
    n = len(list(store.dir.glob("chunk_*.parquet"))) if store.dir.is_dir() else 0
    err.print(f"cartsim: {n} finished chunk(s) kept in {store.dir}; rerun the same command with --resume",
              highlight=False)

