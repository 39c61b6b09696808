"""Every ``cartsim`` line of the README, run in a pseudo-terminal as a user would type it.

Pipes hide what a terminal shows: rich draws progress bars and sizes tables only when
stderr/stdout is a TTY, and a progress bar created with no total crashed there while
every piped test passed. Each README command runs here under a real pseudo-terminal
(``os.openpty``) with its sizes cut down (more patients, draws or trials change how long
a command runs, not which code draws the screen), and fails on a non-zero exit or a
traceback. A line naming a cluster address runs locally instead: this machine must
not contact an address it does not own.
"""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_readme import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600.0  # a cold numba cache compiles for a minute or more on 2 shared cores

# options appended to cut each command's size (click keeps the last value of an option)
SMALL: dict[str, list[str]] = {
    "run": ["--patients", "2000"],
    "compare": ["--patients", "2000", "--bootstrap", "20"],
    "oneway": ["--patients", "300"],
    "twoway": ["--patients", "300", "--grid", "3"],
    "psa": ["--patients", "300", "--draws", "20"],  # `cartsim psa` needs 20 draws for its curves
    "sobol": ["--patients", "300", "--n", "8"],
    "morris": ["--patients", "300", "--trajectories", "2"],
    "power": ["--trials", "60"],
    "validate": ["--draws", "8", "--patients", "100"],
    "calibrate": ["--samples", "40", "--patients-per-study", "1700", "--initial", "20", "--iterations", "1",
                  "--batch", "10", "--posterior", "fit/posterior.parquet", "--calibrated", "fit/calibrated.toml"],
}
KEEP_SIZE = {"studies/s004_donor_derived"}  # a study run's own size is part of what the line shows


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)[1:]


def _small(words: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for i, w in enumerate(words):
        if skip:
            skip = False
            continue
        if w in ("--cluster", "--workers"):  # run locally: never contact a cluster address from a test
            skip = True
            continue
        out.append(w)
        if w == "--patients" and i + 1 < len(words) and any(k in words for k in KEEP_SIZE):
            out.append(words[i + 1])
            skip = True
    kind = out[1] if out[0] == "sweep" else out[0]
    if any(k in out for k in KEEP_SIZE) and kind == "run":
        return out
    return out + SMALL.get(kind, [])


def run_in_terminal(args: list[str], cwd: Path, columns: int = 100) -> tuple[int, str]:
    """Run ``cartsim args`` with stdin, stdout and stderr on a pseudo-terminal; return
    (exit status, everything the terminal received)."""
    master, slave = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "40"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", *args], cwd=cwd, stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the terminal closed: the process is gone
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            pytest.fail(f"cartsim {' '.join(args)} did not finish within {TIMEOUT_S:.0f} s")
    finally:
        os.close(master)
    return proc.wait(), b"".join(chunks).decode("utf-8", "replace")


def test_a_bar_without_total_draws_in_a_terminal(tmp_path: Path) -> None:
    """The crash this file exists for: compare's bar starts with no total."""
    code, screen = run_in_terminal(["compare", "baseline", "tandem_for_all", "--patients", "500", "--bootstrap",
                                    "20", "--out", "cmp"], tmp_path)
    assert code == 0 and "Traceback" not in screen, screen[-3000:]
    assert "tandem_for_all" in screen


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_runs_in_a_terminal(line: str, tmp_path: Path) -> None:
    # the README's lines are typed in a clone's top folder: its relative paths must resolve,
    # but outputs must not land in the repository
    for folder in ("scenarios", "params"):
        (tmp_path / folder).symlink_to(ROOT / folder, target_is_directory=True)
    args = _small(_words(line))
    if args[0] == "report":  # a report needs an output folder to read: a small run makes one
        code, screen = run_in_terminal(["run", "--patients", "300", "--out", args[1]], tmp_path)
        assert code == 0, screen[-3000:]
    code, screen = run_in_terminal(args, tmp_path)
    assert "Traceback" not in screen, f"{args}\n{screen[-4000:]}"
    assert code == 0, f"{args}: exit {code}\n{screen[-4000:]}"


def _help(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "sim.cli", *args, "--help"], capture_output=True, text=True,
                          check=False, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_keeps_brackets_and_shows_flags_without_a_value() -> None:
    """Rich markup ate "[low, high]" and "[bounds]"; flags showed a "<bool>" value."""
    text = _help("sweep", "oneway")
    assert '[bounds] "name" = [low, high]' in text
    assert "<bool>" not in text and "<bool>" not in _help("run")
    assert "exactly two parameters" in _help("sweep", "twoway")


def test_compile_notice_once_when_numba_compiles(capsys: pytest.CaptureFixture[str]) -> None:
    """The notice comes from numba's own "numba:compile" event (raised on a real compile,
    not on a cache load), once per process."""
    import numba

    from sim.commands import common

    common.announce_compilation()
    common.announce_compilation()  # installing twice must not print twice
    common._NOTICE.told = False

    @numba.njit(cache=False)
    def add_one(x: int) -> int:
        return x + 1

    assert add_one(1) == 2
    assert add_one(2.5) == 3.5  # a second compile: no second notice
    assert capsys.readouterr().err.count("compiling the simulation code (first run only") == 1
    assert add_one(3) == 4  # already compiled: nothing
    assert "compiling" not in capsys.readouterr().err


def test_bad_input_never_sees_the_compile_notice(tmp_path: Path) -> None:
    """With a cold cache, a bad input fails before any compiled call: one error line only."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cold")}
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", "psa", "--draws", "1000000000"], cwd=tmp_path,
                          capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
