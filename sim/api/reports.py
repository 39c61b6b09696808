"""The public API of the HTML report: one page from an output folder."""

from __future__ import annotations

from pathlib import Path


def write_report(folder: Path | str, out: Path | str | None = None) -> Path:
    """One self-contained HTML page (tables with intervals, figures, provenance) from an
    output folder of run, compare, sweep, power or validate; written atomically to
    ``out`` (default ``folder/report.html``)."""
    from sim.report.page import write_report as _write  # noqa: PLC0415 - matplotlib-free, but only when asked

    return _write(folder, out)
