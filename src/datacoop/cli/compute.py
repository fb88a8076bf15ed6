"""`datacoop compute …` (compute-to-data jobs) and `datacoop federated run` (Flower across nodes)."""

from __future__ import annotations

import hashlib
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from pydantic import ValidationError

from datacoop.app import Node, build_node
from datacoop.cli._common import (
    DEFAULT_DATA_DIR,
    DEFAULT_URL,
    DataDirOpt,
    KeyOpt,
    UrlOpt,
    console,
    reports_errors,
)
from datacoop.client import DataCoopClient, load_account
from datacoop.compute.licences import UNITS, DatabaseLicences
from datacoop.compute.schemas import JobPublic, PolicyBody
from datacoop.errors import InvalidInput, NotFound
from datacoop.settings import Settings

__all__ = ["register"]

compute_app = typer.Typer(help="Run your algorithm beside a dataset version; get results, never raw items.")
federated_app = typer.Typer(help="Train one model across nodes with Flower; only weights leave a node.")


def _client(url: str, key: str | None, data_dir: Path) -> DataCoopClient:
    client = DataCoopClient(url, account=load_account(key, data_dir=data_dir))
    client.login()
    return client


def _print_job(job: JobPublic) -> None:
    outcome = f"  {job.outcome}" if job.outcome else ""
    console.print(f"job {job.id}: version {job.version_id}  {job.status}{outcome}", markup=False)
    if job.reason:
        console.print(f"  reason: {job.reason}", markup=False)
    for out in job.outputs:
        console.print(f"  output {out.name}  {out.size:,} bytes  {out.cid}", markup=False)
    if job.log:
        console.print("  log:", markup=False)
        console.print("    " + job.log.rstrip().replace("\n", "\n    "), markup=False)


@compute_app.command("submit")
@reports_errors
def submit(
    version_id: Annotated[int, typer.Argument(help="the dataset version to run on")],
    algorithm: Annotated[
        Path, typer.Argument(help="a .py file or a .zip package with run(data_dir, out_dir)")
    ],
    entry: Annotated[
        str | None, typer.Option(help="module:function (default algorithm:run / main:run)")
    ] = None,
    requirement: Annotated[
        list[str] | None, typer.Option("--requirement", "-r", help="a package it needs")
    ] = None,
    wait: Annotated[bool, typer.Option(help="wait for the job to finish")] = False,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Submit an algorithm (you need a compute licence for the version)."""
    if not algorithm.is_file():
        raise NotFound(f"no file {algorithm}", field="algorithm")
    client = _client(url, key, data_dir)
    job = client.compute_submit(version_id, algorithm, entry=entry, requirements=requirement or [])
    console.print(f"submitted job {job.id}")
    if wait:
        _print_job(client.compute_wait(job.id))


@compute_app.command("status")
@reports_errors
def status(
    job_id: Annotated[int, typer.Argument(help="the job")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """A job's status, outcome, the reason it was stopped or withheld, its log and outputs."""
    _print_job(_client(url, key, data_dir).compute_job(job_id))


@compute_app.command("fetch")
@reports_errors
def fetch(
    job_id: Annotated[int, typer.Argument(help="the job")],
    out: Annotated[Path, typer.Option("--out", help="folder to write the outputs to")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Download a job's released outputs (through short-lived signed links)."""
    for path in _client(url, key, data_dir).compute_fetch(job_id, out):
        console.print(f"wrote {path}", markup=False)


@compute_app.command("grant")
@reports_errors
def grant(
    version_id: Annotated[int, typer.Argument(help="the dataset version")],
    buyer: Annotated[str, typer.Argument(help="the buyer's address")],
    unit: Annotated[str, typer.Option(help="job or cpu_second (compute-to-data), round (federated)")] = "job",
    price: Annotated[int, typer.Option(min=0, help="token base units per unit")] = 0,
    days: Annotated[int, typer.Option(min=1, help="days it is valid")] = 30,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Operator: record a compute licence (the exchange does this when a compute order settles)."""
    if unit not in UNITS:
        raise InvalidInput(f"unit must be one of {', '.join(UNITS)}", field="unit")
    node = build_node(Settings(data_dir=data_dir), with_chain=False, check_stages=False)
    try:
        now = datetime.now(UTC)
        with node.db.transaction() as s:
            until = now + timedelta(days=days)
            row = DatabaseLicences.grant(s, version_id=version_id, buyer=buyer, unit=unit, price=price,
                                         source="operator", now=now, expires_at=until)  # fmt: skip
            console.print(f"licence {row.id}: {row.buyer} may use {unit}s on version {version_id}")
    finally:
        node.close()


def _shapes(specs: list[str]) -> dict[str, list[int]]:
    """NAME=2x3 → {"NAME": [2, 3]}."""
    shapes = {}
    for spec in specs:
        name, _, dims = spec.partition("=")
        if not name or not all(d.isdigit() for d in dims.split("x")):
            raise InvalidInput(f"{spec!r} must look like NAME=2x3", field="parameter")
        shapes[name] = [int(d) for d in dims.split("x")]
    return shapes


@compute_app.command("policy")
@reports_errors
def policy(
    version_id: Annotated[int, typer.Argument(help="the dataset version")],
    mode: Annotated[
        str, typer.Option(help="approved (listed hashes only) or open (aggregates only)")
    ] = "open",
    approve: Annotated[
        list[str] | None, typer.Option(help="an algorithm file to approve (its sha256)")
    ] = None,
    metric: Annotated[list[str] | None, typer.Option(help="a metric name open jobs may release")] = None,
    parameter: Annotated[list[str] | None, typer.Option(help="NAME=2x3: a parameter and its shape")] = None,
    mechanism: Annotated[str, typer.Option(help="none, laplace or gaussian")] = "none",
    epsilon: Annotated[float, typer.Option(min=0.0, help="ε one released job spends")] = 0.0,
    epsilon_budget: Annotated[float, typer.Option(min=0.0, help="ε per buyer and dataset")] = 0.0,
    bounds: Annotated[
        str, typer.Option(help="LOW,HIGH: with noise, each released number is clipped into these")
    ] = "0,1",
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Operator: set how outputs of compute jobs on a version may leave (publishers use the API)."""
    hashes = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in approve or []]
    try:
        body = PolicyBody.model_validate(
            {"mode": mode, "approved": hashes, "metrics": metric or ["accuracy", "loss", "items"],
             "parameters": _shapes(parameter or []), "mechanism": mechanism, "epsilon": epsilon,
             "epsilon_budget": epsilon_budget, "bounds": bounds.split(",")}
        )  # fmt: skip
    except ValidationError as exc:
        raise InvalidInput(
            str(exc.errors()[0]["msg"]), field=".".join(map(str, exc.errors()[0]["loc"]))
        ) from exc
    node = build_node(Settings(data_dir=data_dir), with_chain=False, check_stages=False)
    try:
        set_to = node.compute.set_policy(None, version_id, body)
        console.print(f"version {version_id}: {set_to.mode}", markup=False)
    finally:
        node.close()


@compute_app.command("work")
@reports_errors
def work(
    threads: Annotated[int, typer.Option(min=1, max=16, help="jobs run at once")] = 1,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Run queued compute jobs until stopped (beside `datacoop up`, sharing its database)."""
    node = build_node(Settings(data_dir=data_dir), with_chain=False, check_stages=False)
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        node.start_compute_workers(threads)
        console.print(f"compute worker ready: {threads} thread(s)")
        stopping.wait()
    finally:
        node.close()


def _node_spec(spec: str, option: str) -> tuple[str, Path, int]:
    """NAME=DIR:VERSION (NAME defaults to the folder's name)."""
    name, _, rest = spec.rpartition("=") if "=" in spec else ("", "", spec)
    folder, _, version = rest.rpartition(":")
    if not folder or not version.isdigit():
        raise InvalidInput(f"{spec!r} must look like NAME=DATA_DIR:VERSION_ID", field=option)
    return name or Path(folder).name, Path(folder), int(version)


def _open(folder: Path) -> Node:
    if not folder.is_dir():
        raise NotFound(f"no data directory {folder}", field="node")
    return build_node(Settings(data_dir=folder, chain="off"), with_chain=False, check_stages=False)


@federated_app.command("run")
@reports_errors
def federated_run(
    node: Annotated[list[str], typer.Option("--node", help="NAME=DATA_DIR:VERSION_ID, once per node")],
    holdout: Annotated[str, typer.Option(help="DATA_DIR:VERSION_ID of your held-out set")],
    classes: Annotated[str, typer.Option(help="labels to learn, comma-separated (first tag of each item)")],
    rounds: Annotated[int, typer.Option(min=1, max=1000)] = 5,
    lr: Annotated[float, typer.Option(min=0.0)] = 0.2,
    clipping_norm: Annotated[float, typer.Option(min=0.0)] = 0.5,
    noise_multiplier: Annotated[float, typer.Option(min=0.0)] = 0.05,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Train across nodes on this machine (FedAvg, server-side DP clipping); audit logs say who took part."""
    from datacoop.compute.federated import Participant, Training, load_version, run_federated

    buyer = load_account(key, data_dir=data_dir).address
    labels = tuple(c.strip() for c in classes.split(",") if c.strip())
    if len(labels) < 2:
        raise InvalidInput("give at least two classes", field="classes", limit=2)
    opened: list[Node] = []
    try:
        participants = []
        for spec in node:
            name, folder, version = _node_spec(spec, "node")
            opened.append(_open(folder))
            participants.append(Participant(name, opened[-1], version))
        _, hold_dir, hold_version = _node_spec(holdout, "holdout")
        opened.append(_open(hold_dir))
        held = load_version(opened[-1], hold_version, labels)
        opened.append(
            build_node(Settings(data_dir=data_dir, chain="off"), with_chain=False, check_stages=False)
        )
        training = Training(
            rounds=rounds, lr=lr, clipping_norm=clipping_norm, noise_multiplier=noise_multiplier
        )
        result = run_federated(opened[-1], buyer, participants, held, classes=labels, training=training,
                               run_ref=f"federated_run:{datetime.now(UTC):%Y%m%dT%H%M%SZ}")  # fmt: skip
        for r in sorted(result.accuracy):
            console.print(f"round {r}: held-out accuracy {result.accuracy[r]:.3f}  loss {result.loss[r]:.4f}")
    finally:
        for n in opened:
            n.close()


def register(app: typer.Typer) -> None:
    app.add_typer(compute_app, name="compute")
    app.add_typer(federated_app, name="federated")
