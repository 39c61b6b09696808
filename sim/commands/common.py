"""Shared pieces of the ``cartsim`` sub-commands: the stderr console, the output-folder
check, the progress bar and number formatting."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def days(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.0f} d ({x / 30.4375:.1f} mo)"


def progress_bar(unit: str = "patients") -> Progress:
    """A transient progress bar on stderr (stdout stays clean for --json)."""
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} " + unit), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err, transient=True)
