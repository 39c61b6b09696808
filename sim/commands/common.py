"""Shared pieces of the ``cartsim`` sub-commands: the stderr console, the output-folder
check, the progress bar and number formatting."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sim.model.errors import InputError

err = Console(stderr=True)


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def days(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.0f} d ({x / 30.4375:.1f} mo)"


def check_out_dir(out: Path) -> None:
    """The output folder exists or can be made (checked before simulating)."""
    if out.exists() and not out.is_dir():
        raise InputError("command line", "--out", f"{str(out)!r} exists and is not a folder", "a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("command line", "--out", f"cannot create folder {str(out)!r} ({exc.strerror})") from None


def progress_bar() -> Progress:
    """A transient progress bar on stderr (stdout stays clean for --json)."""
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} patients"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err, transient=True)
