"""A buyer's algorithm: one Python file or a small zip package, its entry point and requirements.

Checked when submitted, so a job never queues to fail on something we could have said at once:
the source parses, the entry point ``run(data_dir, out_dir)`` exists, every requirement is on
the operator's allow-list (they are installed beside DataCoop; nothing is installed per job).
"""

from __future__ import annotations

import ast
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from datacoop.errors import InvalidInput, TooLarge

__all__ = ["Algorithm", "parse_algorithm"]

MAX_SOURCE_BYTES = 1024**2
MAX_MEMBERS = 64
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([<>=!~][^;]*)?(;.*)?$")
_ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Algorithm:
    """A checked algorithm: its files (relative path → bytes), entry point and requirements."""

    files: dict[str, bytes]
    entry: str
    requirements: tuple[str, ...]

    def write_to(self, folder: Path) -> None:
        for name, data in self.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _requirements(given: list[str], allowed: list[str]) -> tuple[str, ...]:
    ok = {_canonical(a) for a in allowed}
    names = []
    for i, raw in enumerate(given):
        match = _REQUIREMENT.match(raw)
        if match is None:
            raise InvalidInput(f"requirement {raw!r} is not a package name with an optional version",
                               field=f"requirements[{i}]")  # fmt: skip
        name = _canonical(match.group(1))
        if name not in ok:
            raise InvalidInput(
                f"requirement {match.group(1)!r} is not on the allow-list ({', '.join(sorted(ok))})",
                field=f"requirements[{i}]", limit=sorted(ok),
            )  # fmt: skip
        names.append(name)
    return tuple(sorted(set(names)))


def _unpack(source: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(source))
    except zipfile.BadZipFile:
        raise InvalidInput("the package is not a zip file", field="algorithm") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_MEMBERS:
        raise TooLarge("algorithm.members", MAX_MEMBERS, "files")
    if sum(m.file_size for m in members) > MAX_SOURCE_BYTES:
        raise TooLarge("algorithm (unpacked)", MAX_SOURCE_BYTES)
    files = {}
    for m in members:
        path = PurePosixPath(m.filename)
        if path.is_absolute() or ".." in path.parts:
            raise InvalidInput(f"package member {m.filename!r} leaves the package", field="algorithm")
        files[path.as_posix()] = archive.read(m)
    return files


def _check_entry(files: dict[str, bytes], entry: str) -> None:
    if not _ENTRY.match(entry):
        raise InvalidInput(f"entry {entry!r} must look like 'module:function'", field="entry")
    module, _, func = entry.partition(":")
    name = module.replace(".", "/") + ".py"
    if name not in files:
        raise InvalidInput(f"entry module {module!r} ({name}) is not in the algorithm", field="entry")
    try:
        tree = ast.parse(files[name], filename=name)
    except SyntaxError as exc:
        raise InvalidInput(
            f"{name} does not parse: {exc.msg} (line {exc.lineno})", field="algorithm"
        ) from None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == func:
            if len(node.args.args) < 2 and node.args.vararg is None:
                raise InvalidInput(f"{func}() must take (data_dir, out_dir)", field="entry")
            return
    raise InvalidInput(f"{name} defines no top-level function {func}(data_dir, out_dir)", field="entry")


def parse_algorithm(
    source: bytes, filename: str, *, entry: str | None, requirements: list[str], allowed: list[str]
) -> Algorithm:
    """Check a submitted algorithm.

    Raises:
        TooLarge: over 1 MiB or 64 files.
        InvalidInput: not a .py or .zip, does not parse, no entry point, or a requirement off the allow-list.
    """
    if len(source) > MAX_SOURCE_BYTES:
        raise TooLarge("algorithm", MAX_SOURCE_BYTES)
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix == ".py":
        files, default = {"algorithm.py": source}, "algorithm:run"
    elif suffix == ".zip":
        files, default = _unpack(source), "main:run"
    else:
        raise InvalidInput(f"algorithm {filename!r} must be a .py file or a .zip package", field="algorithm")
    if "requirements.txt" in files and not requirements:
        lines = files["requirements.txt"].decode("utf-8", "replace").splitlines()
        requirements = [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]
    chosen = entry or default
    _check_entry(files, chosen)
    return Algorithm(files, chosen, _requirements(requirements, allowed))
