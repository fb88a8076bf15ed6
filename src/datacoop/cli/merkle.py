"""`datacoop merkle`: OpenZeppelin-compatible Merkle trees of (address, amount) entitlements."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from datacoop import merkle
from datacoop.cli._common import reports_errors
from datacoop.errors import InvalidInput

__all__ = ["register"]

ValuesArg = Annotated[
    Path,
    typer.Argument(
        metavar="VALUES.json",
        help='JSON [["0xaddress", "amount"], …]: amounts as decimal strings or integers; "-" reads stdin',
    ),
]
DumpOpt = Annotated[
    Path | None,
    typer.Option(
        "--dump", help="also write OpenZeppelin's standard-v1 dump (StandardMerkleTree.load reads it)"
    ),
]


@reports_errors
def build(values_file: ValuesArg, dump: DumpOpt = None) -> None:
    """Print {"root": "0x…", "proofs": {"0xAccount": ["0x…", …]}} as JSON.

    Root and proofs equal OpenZeppelin's StandardMerkleTree.of(values, ["address", "uint256"]).

    Each address may appear once; a mixed-case address must be valid EIP-55.

    Proofs are keyed by the address in EIP-55 checksum form, whatever its case in VALUES.json.
    """
    tree = merkle.build(merkle.values_from_json(_read_json(values_file)))
    if dump is not None:
        _write_json(dump, tree.dump())
    json.dump({"root": tree.root, "proofs": tree.proofs_by_account()}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


def _read_json(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="VALUES.json") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text", field="VALUES.json") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not JSON: {exc}", field="VALUES.json") from None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}", field="--dump") from None


def register(app: typer.Typer) -> None:
    """Add the ``merkle`` command group to the ``datacoop`` app."""
    group = typer.Typer(
        name="merkle",
        help="Merkle trees of (address, amount) entitlements, as OpenZeppelin's StandardMerkleTree builds.",
        no_args_is_help=True,
    )
    group.command("build")(build)
    app.add_typer(group, name="merkle")
