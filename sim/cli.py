"""The ``cartsim`` command: thin wiring of the public API (``sim.api``).

Each group of sub-commands lives in its own module of ``sim.commands`` and registers
itself here. Bad input of any kind (files, keys, values, options) prints one line
``cartsim: error: ...`` to stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from sim.commands.common import announce_compilation
from sim.model.errors import InputError

try:  # typer >= 0.16 carries its own copy of click; older typer uses the click package
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as _click_errors  # type: ignore[no-redef]

# rich_markup_mode=None: plain help text, so "[low, high]" or "[capacity]" is not eaten as
# markup and flags do not show a "<bool>" value
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="cartsim: simulate CAR-T therapy for B-ALL relapsed after allo-HSCT.")
EXIT_BAD_INPUT = 2

# modules of sim.commands, each with register(app); the order is the order of `cartsim --help`
COMMAND_MODULES = ("run", "compare", "cea", "psa", "sweep", "trial", "calibrate", "report")


@app.callback()
def _main() -> None:
    """cartsim: simulate CAR-T therapy for B-ALL relapsed after allo-HSCT."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"sim.commands.{_name}").register(app)


#: options whose empty value ('') would silently mean the current folder
NON_EMPTY_OPTIONS = ("--out", "--posterior", "--calibrated", "--targets", "--bounds", "--cluster")


def check_non_empty(args: list[str]) -> None:
    """Refuse ``--out ''`` (and the like): an empty path becomes '.' on its way in."""
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in NON_EMPTY_OPTIONS and ((eq and not value) or (not eq and i + 1 < len(args) and not args[i + 1])):
            raise InputError("command line", name, "empty value", "a path (use . for the current folder)")


def main() -> None:
    """Console-script entry point: one-line errors and exit status 2 for bad input."""
    announce_compilation()
    try:
        check_non_empty(sys.argv[1:])
        code = app(standalone_mode=False)
    except InputError as exc:
        _fail(str(exc))
    except _click_errors.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `cartsim`: help was printed
            sys.exit(0)
        _fail(exc.format_message())
    except _click_errors.ClickException as exc:
        _fail(exc.format_message())
    except (KeyboardInterrupt, typer.Abort):
        sys.stderr.write("cartsim: interrupted\n")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str) -> None:
    sys.stderr.write("cartsim: error: " + " ".join(message.split()) + "\n")
    sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
