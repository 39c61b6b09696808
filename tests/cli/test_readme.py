"""The README's command lines stay true: every ``cartsim ...`` line in its code blocks
names a real sub-command with real options of the right types, and every scenario,
trial spec or file it names exists. Commands are parsed by the CLI itself (click), not
run: running them all would take many minutes; `cartsim run` itself is run by the CI's
first set-up command and the CLI tests."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer

from sim.cli import app
from sim.io.files import SCENARIOS_DIR

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _command_lines() -> list[str]:
    lines, inside = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if inside and line.startswith("cartsim "):
            lines.append(line)
    return lines


COMMANDS = _command_lines()


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)[1:]


def test_the_readme_shows_every_command() -> None:
    shown = {_words(line)[0] for line in COMMANDS}
    assert shown >= {"run", "compare", "sweep", "calibrate", "validate", "power", "simon"}


def _scenario_exists(name: str) -> bool:
    path = Path(name)
    return (ROOT / path).is_file() or (SCENARIOS_DIR / path).is_file() or (SCENARIOS_DIR / f"{name}.toml").is_file()


def _pending(ctx: typer.Context) -> list[str]:
    """The words a group left for its sub-command (click keeps the sub-command's name
    apart; newer click versions only under the private name)."""
    protected = getattr(ctx, "_protected_args", None)
    if protected is None:
        protected = ctx.protected_args
    return [*protected, *ctx.args]


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_parses(line: str) -> None:
    group = typer.main.get_command(app)
    words = _words(line)
    ctx = group.make_context("cartsim", list(words), resilient_parsing=False)
    name, command, rest = group.resolve_command(ctx, _pending(ctx))
    assert command is not None, line
    while hasattr(command, "resolve_command"):  # `sweep` has sub-commands of its own
        sub_ctx = command.make_context(name, list(rest), parent=ctx)
        name, command, rest = command.resolve_command(sub_ctx, _pending(sub_ctx))
        ctx = sub_ctx
    sub = command.make_context(name, list(rest), parent=ctx)  # raises on an unknown option or a bad type
    if name == "report":  # its argument is an output folder, made by an earlier command
        return
    for param in command.params:
        value = sub.params.get(param.name)
        if param.param_type_name != "argument" or value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:  # every positional argument is a scenario, or a trial spec for `power`
            trial = name == "power" and (SCENARIOS_DIR / "trials" / f"{v}.toml").is_file()
            assert trial or _scenario_exists(str(v)), (line, v)
