"""Figures (matplotlib, written atomically as PNG) and the self-contained HTML report of
every command's output folder.

May import the feature packages (it draws their results), ``sim.outcomes``,
``sim.stats``, ``sim.io`` and ``sim.model``; never ``sim.api`` or ``sim.commands``.
"""

from pathlib import Path
from typing import Any

from sim.io.files import atomic_write


def save_png(fig: Any, path: Path | str, dpi: int = 110) -> Path:
    """Write a matplotlib figure to ``path`` atomically (temporary name, then rename) and
    close it, written or not."""
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    finally:
        import matplotlib.pyplot as plt  # noqa: PLC0415 - the figure modules load matplotlib

        plt.close(fig)
