"""Compiled DataCoop contracts: ABI and bytecode, compiled on first use and cached on disk.

The Vyper sources live in the repository's ``contracts/src`` (AGPL-3.0-only, see
``contracts/LICENSE``). A wheel carries them as ``datacoop/chain/_contracts`` when the
build force-includes that folder; a source checkout finds them beside ``src/``.

:func:`compile_contract` compiles with the installed ``vyper`` (snekmate on the search
path) and keeps the result in a cache directory, keyed by the compiler version, the
snekmate version and the hash of every source file, so a second call reads one JSON
file and a changed module invalidates every contract that may import it. Nothing
touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any

from datacoop.errors import DataCoopError, InvalidInput, NotFound, did_you_mean

__all__ = ["DEFAULT_CACHE_DIR", "Artifact", "compile_contract", "contract_names", "contracts_dir"]

DEFAULT_CACHE_DIR = Path("~/.cache/datacoop/contracts")
"""Where compiled artifacts are kept unless a caller names another directory."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FORMAT = 2  # bump when the cached JSON layout changes


@dataclass(frozen=True)
class Artifact:
    """One compiled contract.

    Attributes:
        name: the contract's file name without ``.vy``.
        abi: the ABI as JSON-ready dicts.
        bytecode: the deployment (init) code.
        runtime_bytecode: the code the chain stores after deployment.
        blueprint_bytecode: deployment code that stores the init code as an EIP-5202
            blueprint (``0xFE7100`` + init code), for contracts other contracts create
            with Vyper's ``create_from_blueprint`` (TaskEscrow's vaults).
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    runtime_bytecode: bytes
    blueprint_bytecode: bytes


def contracts_dir() -> Path:
    """The folder holding the contract sources (installed package first, then the checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_contracts", here.parents[2] / "contracts" / "src"):
        if candidate.is_dir():
            return candidate
    raise NotFound("the DataCoop contract sources are missing from this installation", field="contracts")


def contract_names(source_dir: Path | None = None) -> list[str]:
    """The contracts that can be compiled (top-level ``.vy`` files of the source folder)."""
    folder = source_dir or contracts_dir()
    return sorted(path.stem for path in folder.glob("*.vy"))


def compile_contract(name: str, *, cache_dir: Path | None = None, source_dir: Path | None = None) -> Artifact:
    """Compile ``<source_dir>/<name>.vy`` (cached) and return its ABI and bytecode.

    Args:
        name: contract name, e.g. ``"TaskEscrow"``.
        cache_dir: cache folder (default :data:`DEFAULT_CACHE_DIR`).
        source_dir: folder of the sources (default :func:`contracts_dir`).

    Raises:
        InvalidInput: the name is not a plain identifier.
        NotFound: no such contract (the message suggests a close name).
        DataCoopError: the compiler rejected the source.
    """
    if not _NAME.match(name):
        raise InvalidInput(f"contract name {name!r} is not a plain identifier", field="name")
    folder = (source_dir or contracts_dir()).resolve()
    source = folder / f"{name}.vy"
    if not source.is_file():
        names = contract_names(folder)
        raise NotFound(f"no contract {name!r} in {folder}.{did_you_mean(name, names)}", field="name")
    cache_file = Path(cache_dir or DEFAULT_CACHE_DIR).expanduser() / f"{name}-{_cache_key(name, folder)}.json"
    if cache_file.is_file():
        return _from_json(json.loads(cache_file.read_text()))
    artifact = _compile(name, source, folder)
    _write_atomically(cache_file, json.dumps(_to_json(artifact)))
    return artifact


def _versions() -> str:
    import vyper  # type: ignore[import-untyped]

    return f"vyper {vyper.__version__}+{vyper.__commit__}; snekmate {metadata.version('snekmate')}; {_FORMAT}"


def _cache_key(name: str, folder: Path) -> str:
    digest = hashlib.sha256(f"{_versions()}\n{name}\n".encode())
    # Every source under the folder: an edited module must invalidate its importers.
    for path in sorted(folder.rglob("*.vy*")):
        digest.update(f"{path.relative_to(folder).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def _search_paths(folder: Path) -> list[Path]:
    spec = util.find_spec("snekmate")
    if spec is None or not spec.submodule_search_locations:
        raise NotFound("the snekmate package is not installed (pip install snekmate)", field="snekmate")
    return [Path(next(iter(spec.submodule_search_locations))).parent, folder]


def _compile(name: str, source: Path, folder: Path) -> Artifact:
    # vyper ships no type information.
    from vyper.compiler import compile_from_file_input  # type: ignore[import-untyped]
    from vyper.compiler.input_bundle import FilesystemInputBundle  # type: ignore[import-untyped]
    from vyper.exceptions import VyperException  # type: ignore[import-untyped]

    bundle = FilesystemInputBundle(_search_paths(folder))
    file_input = bundle.load_file(source)
    try:
        out = compile_from_file_input(
            file_input,
            input_bundle=bundle,
            output_formats=["abi", "bytecode", "bytecode_runtime", "blueprint_bytecode"],
        )
    except VyperException as exc:
        raise DataCoopError(f"contract {name} does not compile: {exc}") from exc
    return Artifact(
        name=name,
        abi=list(out["abi"]),
        bytecode=bytes.fromhex(out["bytecode"].removeprefix("0x")),
        runtime_bytecode=bytes.fromhex(out["bytecode_runtime"].removeprefix("0x")),
        blueprint_bytecode=bytes.fromhex(out["blueprint_bytecode"].removeprefix("0x")),
    )


def _to_json(artifact: Artifact) -> dict[str, Any]:
    return {
        "name": artifact.name,
        "abi": artifact.abi,
        "bytecode": artifact.bytecode.hex(),
        "runtime_bytecode": artifact.runtime_bytecode.hex(),
        "blueprint_bytecode": artifact.blueprint_bytecode.hex(),
    }


def _from_json(data: dict[str, Any]) -> Artifact:
    return Artifact(
        name=str(data["name"]),
        abi=list(data["abi"]),
        bytecode=bytes.fromhex(data["bytecode"]),
        runtime_bytecode=bytes.fromhex(data["runtime_bytecode"]),
        blueprint_bytecode=bytes.fromhex(data["blueprint_bytecode"]),
    )


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
