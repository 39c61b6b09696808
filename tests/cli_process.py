"""Running ``cartsim`` as a real process in tests, and the bad-input contract: exit 2,
nothing on stdout, exactly one ``cartsim: error:`` line on stderr, no traceback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TIMEOUT_S = 600  # generous: a cold numba cache costs ~40-60 s of compilation per process


def cartsim(*args: object, cwd: Path, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cartsim args``; ``columns`` sets the table width (COLUMNS; pytest's own
    terminal width is otherwise inherited)."""
    env = None if columns is None else {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "sim.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=TIMEOUT_S, check=False, env=env)


def cartsim_in_process(args: list[str], capsys: Any, monkeypatch: Any) -> subprocess.CompletedProcess[str]:
    """``cartsim ARGS`` through the console entry point in this process (no import cost;
    ``capsys`` and ``monkeypatch`` are pytest's fixtures)."""
    from sim.cli import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["cartsim", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1  # a message instead of a status: failure
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def describe(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"


def assert_one_error_line(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Bad input: exit 2, nothing on stdout, one 'cartsim: error:' line naming ``fragments``."""
    assert proc.returncode == 2, describe(proc)
    assert proc.stdout == "", describe(proc)
    assert "Traceback" not in proc.stderr, describe(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, describe(proc)
    assert lines[0].startswith("cartsim: error:"), describe(proc)
    for fragment in fragments:
        assert fragment in lines[0], describe(proc)


@contextlib.contextmanager
def not_dask_server(reply: bytes | None = None) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that is not a Dask scheduler: it accepts connections and
    never answers, or answers each with ``reply`` (another protocol); yields its address."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            if reply is not None:
                try:
                    conn.recv(64)
                    conn.sendall(reply)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
