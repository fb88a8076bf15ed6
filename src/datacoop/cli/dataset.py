"""`datacoop dataset …`: freeze versions, list them, check a manifest and inclusion proofs.

Commands that read or change a node's datasets go to the running node at ``--url``, or, with
``--data-dir DIR``, straight to that data directory while no node runs. Other modules add
commands to :data:`dataset_app` (``export`` does).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from datacoop.cli._common import DEFAULT_URL, KeyOpt, UrlOpt, console, reports_errors
from datacoop.datasets.schemas import DatasetPublic, VersionPublic
from datacoop.errors import InvalidInput

__all__ = ["DatasetBackend", "LocalDataDirOpt", "dataset_app", "open_backend", "register"]

dataset_app = typer.Typer(help="Dataset versions: freeze, list, show, verify, prove.", no_args_is_help=True)

LocalDataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="work on this data directory directly (no node may be running)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


class DatasetBackend:
    """The same dataset calls over the SDK (a running node) or a node built on a data directory."""

    def __init__(self, client: Any = None, node: Any = None) -> None:
        self.client, self.node = client, node

    def create(self, name: str, query: dict[str, Any]) -> DatasetPublic:
        if self.node is not None:
            result: DatasetPublic = self.node.datasets.create(None, name, query)
            return result
        return self.client.create_dataset(name, query)  # type: ignore[no-any-return]

    def freeze(self, dataset_id: int) -> VersionPublic:
        if self.node is not None:
            result: VersionPublic = self.node.datasets.create_version(dataset_id)
            return result
        return self.client.create_dataset_version(dataset_id)  # type: ignore[no-any-return]

    def list(self) -> list[DatasetPublic]:
        if self.node is not None:
            return self.node.datasets.list_all()  # type: ignore[no-any-return]
        return self.client.list_datasets()  # type: ignore[no-any-return]

    def version(self, version_id: int) -> VersionPublic:
        if self.node is not None:
            return self.node.datasets.version_by_id(version_id)  # type: ignore[no-any-return]
        return self.client.dataset_version(version_id)  # type: ignore[no-any-return]

    def manifest(self, version_id: int) -> bytes:
        if self.node is not None:
            return self.node.datasets.manifest_bytes(version_id)  # type: ignore[no-any-return]
        return self.client.dataset_manifest(version_id)  # type: ignore[no-any-return]

    def proof(self, version_id: int, index: int) -> dict[str, Any]:
        if self.node is not None:
            return self.node.datasets.proof(version_id, index)  # type: ignore[no-any-return]
        return self.client.dataset_proof(version_id, index)  # type: ignore[no-any-return]


@contextmanager
def open_backend(url: str, data_dir: Path | None, key: str | None = None) -> Iterator[DatasetBackend]:
    """A backend on ``data_dir`` when given (the node is built here and closed after), else on ``url``."""
    if data_dir is not None:
        from datacoop.app import build_node
        from datacoop.settings import Settings

        node = build_node(Settings(data_dir=data_dir), with_chain=False, check_stages=False)
        try:
            yield DatasetBackend(node=node)
        finally:
            node.close()
        return
    from datacoop.client import DataCoopClient, load_account

    client = DataCoopClient(url, account=load_account(key) if key else None)
    if key:
        client.login()
    try:
        yield DatasetBackend(client=client)
    finally:
        client.close()


def _print_version(v: VersionPublic) -> None:
    console.print(f"[bold]version {v.id}[/bold] (dataset {v.dataset_id}, v{v.number}): {v.item_count} items")
    console.print(f"  manifest: {v.manifest_cid}\n  items root: {v.items_root}")
    removed = ", ".join(f"{r['submission_id']} ({r['reason']})" for r in v.changes.get("removed", []))
    console.print(f"  added: {len(v.changes.get('added', []))}   removed: {removed or 'none'}", markup=False)
    anchor = v.anchor
    tx = f"  tx {anchor.tx_hash}" if anchor.tx_hash else ""
    console.print(f"  anchored: {anchor.status} — {anchor.meaning}{tx}", markup=False)


@dataset_app.command("create")
@reports_errors
def create(
    name: Annotated[str, typer.Argument(help="the dataset's name")],
    task: Annotated[
        list[int], typer.Option("--task", help="a task whose accepted items it holds (repeatable)")
    ],
    country: Annotated[
        list[str] | None, typer.Option(help="only items from this country (repeatable)")
    ] = None,
    licence: Annotated[str | None, typer.Option(help="only items under this licence")] = None,
    since: Annotated[str | None, typer.Option("--from", help="created on or after (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="created on or before (YYYY-MM-DD)")] = None,
    label: Annotated[list[str] | None, typer.Option(help="NAME=VALUE an item's labels must hold")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: LocalDataDirOpt = None,
) -> None:
    """Create a dataset over accepted items and freeze its first version."""
    query: dict[str, Any] = {"task_ids": task, "jurisdictions": country or [], "licence": licence}
    query |= {"created_from": since, "created_to": until, "labels": _labels(label or [])}
    with open_backend(url, data_dir, key) as backend:
        dataset = backend.create(name, query)
        version = backend.freeze(dataset.id)
    if as_json:
        console.print_json(version.model_dump_json())
    else:
        _print_version(version)


def _labels(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--label {pair!r}: use NAME=VALUE", field="label")
        out[name] = value
    return out


@dataset_app.command("version")
@reports_errors
def freeze(
    dataset_id: int,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: LocalDataDirOpt = None,
) -> None:
    """Freeze a new version of a dataset (what was added and removed since the last one is recorded)."""
    with open_backend(url, data_dir, key) as backend:
        version = backend.freeze(dataset_id)
    if as_json:
        console.print_json(version.model_dump_json())
    else:
        _print_version(version)


@dataset_app.command("list")
@reports_errors
def list_(as_json: JsonOpt = False, url: UrlOpt = DEFAULT_URL, data_dir: LocalDataDirOpt = None) -> None:
    """List datasets and their versions with the versions' ids."""
    with open_backend(url, data_dir) as backend:
        datasets = backend.list()
    if as_json:
        versions = [
            v.model_dump(mode="json") | {"dataset_name": d.name} for d in datasets for v in d.versions
        ]
        typer.echo(json.dumps(versions, indent=2))
        return
    table = Table("version id", "dataset", "name", "v", "items", "manifest CID", "anchored")
    for d in datasets:
        for v in d.versions:
            table.add_row(str(v.id), str(d.id), d.name, str(v.number), str(v.item_count), v.manifest_cid,
                          v.anchor.status)  # fmt: skip
    console.print(table)


@dataset_app.command("show")
@reports_errors
def show(
    version_id: int,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="write the manifest's bytes here")
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
    data_dir: LocalDataDirOpt = None,
) -> None:
    """Show one version; --manifest FILE saves its manifest (for `dataset verify`)."""
    with open_backend(url, data_dir) as backend:
        version = backend.version(version_id)
        if manifest is not None:
            manifest.write_bytes(backend.manifest(version_id))
    if as_json:
        console.print_json(version.model_dump_json())
    else:
        _print_version(version)


def register(app: typer.Typer) -> None:
    from datacoop.cli import dataset_export, dataset_verify

    dataset_verify.register(dataset_app)
    dataset_export.register(dataset_app)
    app.add_typer(dataset_app, name="dataset")
