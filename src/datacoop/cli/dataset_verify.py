"""`datacoop dataset verify|proof|verify-proof`: check a version from its manifest alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from datacoop.cli._common import DEFAULT_URL, UrlOpt, console, err_console, reports_errors
from datacoop.datasets.manifest import Manifest
from datacoop.datasets.verify import (
    BlobSource,
    ChainRecord,
    VerifyReport,
    check_proof,
    directory_blobs,
    verify_manifest,
)
from datacoop.errors import IntegrityError, InvalidInput

__all__ = ["register"]

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _read_manifest(source: str, blobs: Path | None) -> bytes:
    path = Path(source)
    if path.is_file():
        return path.read_bytes()
    if blobs is None:
        raise InvalidInput(
            f"{source} is not a file; to read a manifest by CID give --blobs DIR", field="manifest"
        )
    stream = directory_blobs(blobs)(source)
    if stream is None:
        raise InvalidInput(f"no manifest file or blob {source} (looked in {blobs})", field="manifest")
    with stream:
        return stream.read()


def _chain(data: bytes, rpc: str | None, registry: str | None, token_id: int | None) -> ChainRecord | None:
    given = [rpc is not None, registry is not None, token_id is not None]
    if not any(given):
        return None
    if not all(given):
        raise InvalidInput("--rpc, --registry and --token-id go together", field="rpc")
    from datacoop.cid import cid_of_bytes
    from datacoop.datasets.chain_record import record_on_chain

    assert rpc is not None and registry is not None and token_id is not None
    manifest = Manifest.from_bytes(data)
    return record_on_chain(rpc, registry, token_id, cid_of_bytes(data), manifest.version)


def _print_report(report: VerifyReport) -> None:
    table = Table("check", "passed", "failed")
    for name, counted in report.to_json()["checked"].items():
        failed = sum(1 for c in report.failures if c.name == name)
        if counted:
            table.add_row(name, str(counted - failed), str(failed))
    console.print(f"manifest {report.manifest_cid}: {report.item_count} items")
    console.print(table)
    for check in report.failures:
        where = f"item {check.index}: " if check.index is not None else ""
        err_console.print(f"FAILED {check.name}: {where}{check.detail}", markup=False)
    console.print(
        "[green]verified[/green]" if report.ok else f"[red]{len(report.failures)} check(s) failed[/red]"
    )


@reports_errors
def verify(
    manifest: Annotated[str, typer.Argument(metavar="MANIFEST_FILE_OR_CID")],
    blobs: Annotated[
        Path | None, typer.Option(help="a folder of the blobs (named by CID), a blob store or a data dir")
    ] = None,
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL of the chain to check the record on")] = None,
    registry: Annotated[str | None, typer.Option(help="DatasetRegistry address")] = None,
    token_id: Annotated[int | None, typer.Option(help="the dataset's token id in DatasetRegistry")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every signature, every blob's CID (with --blobs), the Merkle root and the chain record."""
    data = _read_manifest(manifest, blobs)
    source: BlobSource | None = directory_blobs(blobs) if blobs is not None else None
    report = verify_manifest(data, blobs=source, chain=_chain(data, rpc, registry, token_id))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(IntegrityError.exit_code)


@reports_errors
def proof(
    version_id: int,
    index: int,
    out: Annotated[Path | None, typer.Option(help="write the proof here instead of stdout")] = None,
    url: UrlOpt = DEFAULT_URL,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="read this data directory directly")
    ] = None,
) -> None:
    """Print an inclusion proof of one item (JSON) that `dataset verify-proof` checks on its own."""
    from datacoop.cli.dataset import open_backend

    with open_backend(url, data_dir) as backend:
        text = json.dumps(backend.proof(version_id, index), indent=2, sort_keys=True)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")


@reports_errors
def verify_proof(proof_file: Annotated[Path, typer.Argument(metavar="PROOF.json")]) -> None:
    """Check an inclusion proof: the item hashes to a leaf that the proof leads to the root from."""
    try:
        data = json.loads(proof_file.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{proof_file} is not a JSON file: {exc}", field="proof") from None
    if not check_proof(data):
        err_console.print(f"FAILED: item {data.get('index')} is not under root {data.get('items_root')}")
        raise typer.Exit(IntegrityError.exit_code)
    console.print(f"item {data['index']} is in the version with items root {data['items_root']}")


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
    app.command("proof")(proof)
    app.command("verify-proof")(verify_proof)
