"""``cartsim report``: one self-contained HTML page from an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim import api
from sim.commands.common import stdout_console


def register(app: typer.Typer) -> None:
    app.command()(report)


def report(
    folder: Annotated[Path, typer.Argument(help="output folder of cartsim run, compare, sweep, power or validate")],
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default: FOLDER/report.html)")] = None,
) -> None:
    """Write one self-contained HTML page (tables with intervals, figures, provenance) from an output folder."""
    path = api.write_report(folder, out)
    stdout_console().print(f"wrote {path}", markup=False, highlight=False)
