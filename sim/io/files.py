"""Reading parameter and scenario files, and writing outputs atomically.

Every write goes to a temporary name in the target folder and is renamed into place,
so an interrupted run never leaves a half-written file where a good one stood.

A command's outputs are written as a set (:class:`OutputSet`): each file is first
written into a hidden staging folder beside its target; only when every file is written
is a commit record saved and the files renamed into place. A failure before the record
leaves the earlier outputs byte-identical; a process killed during the renames leaves
the record, and the next writer into the folder finishes them (a redo log), so a folder
never keeps a new table beside an old figure. Staging per file rather than replacing the
whole folder keeps what else the folder holds: one ``--out`` may collect the outputs of
several commands, and a user may point it at a folder of their own files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import shutil
import tempfile
import tomllib
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from sim.model.economic_inputs import EconomicInputs
from sim.model.errors import InputError
from sim.model.parameter_set import ParameterSet, life_table_slots
from sim.model.scenario import Scenario, build_scenario, check_structure

#: the project's top level (params/, scenarios/ sit beside the sim package)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARAMS_DIR = PROJECT_ROOT / "params"
TARGETS_PATH = PARAMS_DIR / "targets.toml"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
BASELINE_SCENARIO = SCENARIOS_DIR / "baseline.toml"


def read_toml(path: Path | str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "", "file not found", "an existing TOML file")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), "", f"not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "", "not a UTF-8 text file", "a TOML file") from None


LIFE_TABLES_DIR = PARAMS_DIR / "life_tables"


def load_life_tables() -> dict[str, np.ndarray]:
    """Every life table of params/life_tables by name (file stem), as theta slots."""
    return {path.stem: life_table_slots(read_toml(path), str(path)) for path in sorted(LIFE_TABLES_DIR.glob("*.toml"))}


def load_parameter_set(path: Path | str) -> ParameterSet:
    return ParameterSet.from_document(read_toml(path), str(path), load_life_tables())


ECONOMICS_DIR = PARAMS_DIR / "economics"


def load_economics(name: str | Path) -> EconomicInputs:
    """An economic preset by file path or by name in params/economics ("uk_nhs")."""
    path = Path(name)
    if not path.suffix and not path.exists():
        path = ECONOMICS_DIR / f"{name}.toml"
    return EconomicInputs.from_document(read_toml(path), str(path))


def resolve_scenario_path(name: str | Path | None) -> Path:
    """A scenario path; None means the built-in baseline, and a bare name is looked
    up in scenarios/ ("baseline" -> scenarios/baseline.toml)."""
    if name is None:
        return BASELINE_SCENARIO
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (SCENARIOS_DIR / path, SCENARIOS_DIR / f"{path}.toml"):
        if candidate.is_file():
            return candidate
    return path  # read_toml reports it as missing


def load_scenario(name: str | Path | None = None) -> Scenario:
    """Read and validate a scenario and its base parameter file."""
    path = resolve_scenario_path(name)
    doc = read_toml(path)
    check_structure(doc, str(path))
    base_name = doc.get("scenario", {}).get("base", "../params/defaults.toml")
    if not isinstance(base_name, str):
        raise InputError(str(path), "scenario.base", f"expected a file path, got {base_name!r}")
    base_path = (path.parent / base_name).resolve()
    if not base_path.is_file():
        raise InputError(str(path), "scenario.base", f"parameter file {base_name!r} not found",
                         "a path relative to the scenario file")
    base = load_parameter_set(base_path)
    return build_scenario(doc, str(path), base)


def read_trial(path: Path | str) -> tuple[dict[str, Any], Scenario]:
    """A trial file's TOML and its base scenario (``trial.scenario``: a path relative to
    the trial file, or a scenario name such as ``baseline``)."""
    path = Path(path)
    doc = read_toml(path)
    ref = doc.get("trial", {}).get("scenario", "baseline") if isinstance(doc.get("trial"), dict) else "baseline"
    if not isinstance(ref, str):
        raise InputError(str(path), "trial.scenario", f"expected a scenario file or name, got {ref!r}")
    local = path.parent / ref
    return doc, load_scenario(local if local.is_file() else ref)


def atomic_write(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json(path: Path | str, obj: Any) -> Path:
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def json_safe(obj: Any) -> Any:
    """A JSON-ready copy: NaN and infinities become None, numpy scalars plain numbers,
    dict keys strings (JSON has no NaN, and ``json.dumps(allow_nan=False)`` is used)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def check_out_dir(out: Path, option: str = "--out") -> None:
    """The output folder exists or can be made (checked before simulating)."""
    if out.exists() and not out.is_dir():
        raise InputError("command line", option, f"{str(out)!r} exists and is not a folder", "a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("command line", option, f"cannot create folder {str(out)!r} ({exc.strerror})") from None


LOCK_NAME = ".cartsim.lock"
STAGING_PREFIX = ".cartsim-staging-"
COMMIT_NAME = "COMMIT.json"  # in the primary staging folder: the renames to finish
PRIMARY_NAME = "PRIMARY"  # in a secondary staging folder: where the commit record will be
#: a temporary file of ``atomic_write`` (mkstemp's 8 random characters) left by a killed write
_STALE_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def _protected(folder: Path) -> bool:
    """A folder of the installed package's committed inputs (params/, scenarios/)."""
    resolved = folder.resolve()
    return any(resolved == d.resolve() or d.resolve() in resolved.parents for d in (PARAMS_DIR, SCENARIOS_DIR))


def _absolute(path: Path) -> str:
    """An absolute path that survives a change of folder (a symlinked file is replaced, not its target)."""
    return os.path.join(os.path.realpath(path.parent), path.name)


def _apply_commit(staging: Path) -> None:
    """Finish the renames of a commit record (idempotent: a file already moved is skipped)
    and remove the staging folders it names."""
    record = json.loads((staging / COMMIT_NAME).read_text())
    for src, dst in record["moves"]:
        with contextlib.suppress(FileNotFoundError):  # moved before the interruption (or by another recovery)
            os.replace(src, dst)
    moved = {dst for _, dst in record["moves"]}
    for path in record["remove"]:
        if path not in moved:
            Path(path).unlink(missing_ok=True)
    for folder in record["secondaries"]:
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def recover(folder: Path | str) -> None:
    """Resolve what killed writers left in ``folder``: a staging folder with a commit record
    (or a secondary whose primary has one) is rolled forward, any other staging folder and
    any stale temporary file is removed. Call only while holding the folder's lock."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
            primary = entry
            if (entry / PRIMARY_NAME).is_file():
                primary = Path((entry / PRIMARY_NAME).read_text().strip())
            if (primary / COMMIT_NAME).is_file():
                _apply_commit(primary)
            shutil.rmtree(entry, ignore_errors=True)
    for sub in (folder, folder / "chunks"):  # chunks/: a sweep's resumable chunk files (sim.io.chunks)
        if sub.is_dir():
            for entry in sub.iterdir():
                if _STALE_TMP.match(entry.name) and entry.is_file():
                    entry.unlink(missing_ok=True)


class OutputSet:
    """The files one command writes, committed together or not at all.

    ``folders`` maps each folder written into to the option that named it (for errors);
    the first is the primary (relative names given to :meth:`stage` are placed there).
    On entering, each folder is created if needed, locked against a second writer (a
    one-line InputError, before any work) and cleaned of what killed writers left
    (:func:`recover`). :meth:`stage` gives the temporary path to write a target to; leaving
    the block normally renames every staged file into place and removes the files named
    in ``retire`` that were not written this time (outputs of an earlier, different run
    that would otherwise sit beside these); leaving it by an exception discards them.
    A folder inside the package's params/ or scenarios/ needs ``force`` (``force_option``:
    the command's option that sets it, named in the error).
    """

    def __init__(self, folders: Path | str | dict[Path, str], option: str = "--out", *,
                 retire: Iterable[str] = (), force: bool = False, force_option: str | None = None) -> None:
        if not isinstance(folders, dict):
            folders = {Path(folders): option}
        if not folders:
            raise ValueError("an output set needs a folder")
        self.folders: dict[Path, str] = {}
        for folder, opt in folders.items():  # one lock per folder, however it is spelt
            if not any(os.path.realpath(f) == os.path.realpath(folder) for f in self.folders):
                self.folders[Path(folder)] = opt
        self.primary = next(iter(self.folders))
        self.retire = list(retire)
        self.force = force
        self.force_option = force_option
        self.written: list[Path] = []  # final paths, in the order staged
        self._moves: list[tuple[Path, Path]] = []
        self._staging: dict[Path, Path] = {}
        self._locks: list[tuple[Path, int]] = []

    def __enter__(self) -> OutputSet:
        try:
            for folder, option in self.folders.items():
                self._open(folder, option)
        except BaseException:
            _release(self._locks)
            raise
        return self

    def open(self) -> OutputSet:
        """Enter without a ``with`` block; :meth:`commit` ends it. Left uncommitted (an
        error, or the program ending), the staged files are discarded and the locks
        released when the set is collected or at interpreter exit."""
        self.__enter__()
        weakref.finalize(self, _abandon, self._staging, self.primary, self._locks)
        return self

    def _open(self, folder: Path, option: str) -> None:
        if _protected(folder) and not self.force:
            allowed = "a folder outside the package's params/ and scenarios/" + (
                "" if self.force_option is None else f" (or add {self.force_option} to overwrite the committed files)")
            raise InputError("command line", option, f"{str(folder)!r} is inside the installed package's committed "
                             f"inputs ({folder.resolve()})", allowed)
        check_out_dir(folder, option)
        lock = folder / LOCK_NAME
        while True:
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise InputError("command line", option, f"cannot write in folder {str(folder)!r} ({exc.strerror})",
                                 "a writable folder") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise InputError("command line", option, f"another cartsim command is writing into {str(folder)!r}",
                                 "wait for it to finish, or another folder") from None
            # the holder before us removes the file on release: our lock counts only if it is on
            # the file the path still names (else a third writer could lock a new file alongside)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._locks.append((lock, fd))
        recover(folder)

    def _staging_dir(self, folder: Path) -> Path:
        if folder not in self._staging:
            primary = None if folder == self.primary else self._staging_dir(self.primary)  # the primary first
            path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
            if primary is not None:  # so that recovery in this folder can find the commit record
                (path / PRIMARY_NAME).write_text(str(primary.resolve()))
            self._staging[folder] = path
        return self._staging[folder]

    def target(self, name: Path | str) -> Path:
        """Where ``name`` ends up: a bare name in the primary folder, a path as given."""
        path = Path(name)
        return self.primary / path if len(path.parts) == 1 else path

    def stage(self, name: Path | str) -> Path:
        """The temporary path to write output ``name`` to (renamed into place on commit)."""
        target = self.target(name)
        folder = next((f for f in self.folders if os.path.realpath(f) == os.path.realpath(target.parent)), None)
        if folder is None:
            raise ValueError(f"{target} is outside the folders of this output set")
        staged = self._staging_dir(folder) / target.name
        self._moves = [(s, t) for s, t in self._moves if t != target]
        self._moves.append((staged, target))
        self.written = [t for t in self.written if t != target] + [target]
        return staged

    def commit(self) -> list[Path]:
        """Rename every staged file into place and release the folders (done on leaving the
        ``with`` block normally); returns the final paths."""
        try:
            if self._moves:
                missing = [str(s) for s, _ in self._moves if not s.is_file()]
                if missing:
                    raise RuntimeError(f"staged output never written: {missing[0]}")
                primary = self._staging_dir(self.primary)
                record = {"moves": [[_absolute(s), _absolute(t)] for s, t in self._moves],
                          "remove": [_absolute(self.target(n)) for n in self.retire],
                          "secondaries": [str(d.resolve()) for f, d in self._staging.items() if f != self.primary]}
                write_json(primary / COMMIT_NAME, record)  # from here on the set is committed
                _apply_commit(primary)
        finally:
            self._moves.clear()
            _abandon(self._staging, self.primary, self._locks)
        return self.written

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.written = []
            self._moves.clear()
            _abandon(self._staging, self.primary, self._locks)


def _abandon(staging: dict[Path, Path], primary: Path, locks: list[tuple[Path, int]]) -> None:
    """Discard an output set's staging folders (kept once its commit record exists: a
    failed rename waits for recovery) and release its locks."""
    record = staging.get(primary)
    if record is None or not (record / COMMIT_NAME).is_file():
        for path in staging.values():
            shutil.rmtree(path, ignore_errors=True)
    staging.clear()
    _release(locks)


def _release(locks: list[tuple[Path, int]]) -> None:
    for lock, fd in locks:
        lock.unlink(missing_ok=True)  # while held: a writer that opened it meanwhile sees it gone, retries
        os.close(fd)  # closing the descriptor releases the lock
    locks.clear()
