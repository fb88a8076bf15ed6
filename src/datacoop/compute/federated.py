"""Federated learning with Flower: each DataCoop node trains on its own version; only weights travel.

A node takes part as a Flower ``ClientApp`` (the current Message API) over a dataset version it
holds: it turns its items into features *on the node* and answers ``train`` and ``evaluate``
messages with model arrays and metrics. The coordinator runs Flower's ``FedAvg`` wrapped in its
server-side fixed-clipping differential-privacy strategy, over a :class:`NodeGrid`: a Flower
``Grid`` that carries messages between nodes on one machine (a deployment would put a SuperLink
and SuperNodes there; the strategy and the ClientApps stay the same).

The grid guards the wire: a reply holding anything but arrays of the model's shapes and numeric
metrics is refused, so no item can leave a node through it. Each node checks the coordinator holds
a per-round compute licence for its version, records a usage row per round and writes its part to
its own audit log; the coordinator's audit log names every node and version that took part.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from datacoop.clock import utc_now
from datacoop.compute.features import FEATURES, features_of
from datacoop.db.models import ComputeUsage
from datacoop.errors import Forbidden, IntegrityError, InvalidInput

try:
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid
    from flwr.serverapp.strategy import DifferentialPrivacyServerSideFixedClipping, FedAvg
    from flwr.supercore.task_identity import TaskIdentity
except ImportError as exc:  # pragma: no cover - the federated extra is not installed
    raise ImportError(f"federated learning needs: pip install 'datacoop[federated]' ({exc})") from exc

if TYPE_CHECKING:
    from datacoop.audit.log import AuditLog
    from datacoop.compute.service import ComputeService
    from datacoop.datasets.service import DatasetService
    from datacoop.db import Database
    from datacoop.storage import BlobStore


class Node(Protocol):
    """The parts of a node that federated training reads: the composition root's ``Node`` has them.

    Declared here, not imported from :mod:`datacoop.app`, so that compute does not depend on the
    composition root (the layers contract in ``pyproject.toml``)."""

    @property
    def db(self) -> Database: ...
    @property
    def store(self) -> BlobStore: ...
    @property
    def datasets(self) -> DatasetService: ...
    @property
    def compute(self) -> ComputeService: ...
    @property
    def audit(self) -> AuditLog: ...


__all__ = [
    "FederatedResult",
    "LocalModel",
    "NodeGrid",
    "Participant",
    "client_app",
    "load_version",
    "run_federated",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Holdout = tuple[F64, I64]
log = logging.getLogger("datacoop.federated")


@dataclass(frozen=True)
class LocalModel:
    """Softmax regression over colour histograms: weights (features × classes) and biases (classes)."""

    classes: tuple[str, ...]

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [(FEATURES, len(self.classes)), (len(self.classes),)]

    def initial(self) -> list[F64]:
        return [np.zeros(shape) for shape in self.shapes]

    @staticmethod
    def _probabilities(arrays: list[F64], x: F64) -> F64:
        logits = x @ arrays[0] + arrays[1]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        out: F64 = e / e.sum(axis=1, keepdims=True)
        return out

    def train(self, arrays: list[F64], x: F64, y: I64, *, lr: float, epochs: int) -> list[F64]:
        """Full-batch gradient descent on the node's own features."""
        w, b = arrays[0].copy(), arrays[1].copy()
        onehot = np.eye(len(self.classes))[y]
        for _ in range(epochs):
            grad = (self._probabilities([w, b], x) - onehot) / max(len(y), 1)
            w -= lr * x.T @ grad
            b -= lr * grad.sum(axis=0)
        return [w, b]

    def loss(self, arrays: list[F64], x: F64, y: I64) -> float:
        """Mean cross-entropy: it keeps falling while the model improves, after accuracy tops out."""
        p = self._probabilities(arrays, x)[np.arange(len(y)), y]
        return float(-np.log(np.clip(p, 1e-12, 1.0)).mean()) if len(y) else 0.0

    def accuracy(self, arrays: list[F64], x: F64, y: I64) -> float:
        return float((self._probabilities(arrays, x).argmax(axis=1) == y).mean()) if len(y) else 0.0


@dataclass
class Participant:
    """A node taking part with one of its dataset versions."""

    name: str
    node: Node
    version_id: int


def load_version(node: Node, version_id: int, classes: tuple[str, ...]) -> Holdout:
    """Features and label indices of a version's items whose first tag is one of ``classes``."""
    images, labels = [], []
    for item in node.datasets.manifest(version_id).items:
        tags = item.labels.get("tags") or []
        if tags and tags[0] in classes:
            with node.store.open(item.cid) as f:
                images.append(f.read())
            labels.append(classes.index(tags[0]))
    return features_of(images), np.array(labels, dtype=np.int64)


def _arrays(content: RecordDict) -> list[F64]:
    return [a.astype(np.float64) for a in content.array_records["arrays"].to_numpy_ndarrays()]


def _charge(
    node: Node, coordinator: str, version_id: int, run: str, server_round: int, now: datetime
) -> None:
    """The licence check (the chain asked first), then in one transaction the round's usage and audit rows."""
    check = node.compute.licences.check(node.db, coordinator, version_id, ("round",), now)
    with node.db.transaction() as s:
        grant = node.compute.licences.licence_for(s, check)
        if grant is None:
            raise Forbidden(
                f"{coordinator} holds no federated (per-round) licence for version {version_id}",
                field="version_id",
            )
        subject = f"{run}/round:{server_round}"
        s.add(
            ComputeUsage(
                licence_id=grant.id,
                buyer=coordinator,
                version_id=version_id,
                unit="round",
                subject=subject[:200],
                quantity=1,
                amount=grant.price,
                created_at=now,
            )
        )
        details = {"run": run, "round": server_round}
        where = f"dataset_version:{version_id}"
        node.audit.append(
            s, actor=coordinator, action="federated.round.trained", subject=where, details=details
        )


def client_app(
    participant: Participant, model: LocalModel, coordinator: str, clock: Callable[[], datetime] = utc_now
) -> ClientApp:
    """The Flower ClientApp of one node: trains and evaluates on its own items, returns only arrays."""
    node, version_id = participant.node, participant.version_id
    x, y = load_version(node, version_id, model.classes)
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        config = msg.content.config_records["config"]
        _charge(node, coordinator, version_id, str(config["run"]), int(str(config["server-round"])), clock())
        lr, epochs = float(str(config["lr"])), int(str(config["epochs"]))
        updated = model.train(_arrays(msg.content), x, y, lr=lr, epochs=epochs)
        metrics = MetricRecord({"num-examples": len(y), "train-accuracy": model.accuracy(updated, x, y)})
        return Message(RecordDict({"arrays": ArrayRecord(updated), "metrics": metrics}), reply_to=msg)

    @app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        arrays = _arrays(msg.content)
        metrics = MetricRecord({"num-examples": len(y), "accuracy": model.accuracy(arrays, x, y)})
        return Message(RecordDict({"metrics": metrics}), reply_to=msg)

    return app


class NodeGrid(Grid):
    """A Flower Grid that hands messages to ClientApps on this machine and checks every reply.

    ``wire`` keeps every message both ways, so a test (or an auditor) can read what travelled.
    """

    def __init__(self, apps: dict[int, ClientApp], shapes: list[tuple[int, ...]], run_id: int = 1) -> None:
        self._apps, self._shapes, self._run_id = apps, shapes, run_id
        self._ids = itertools.count(1)
        self._run: Any = None
        self.wire: list[Message] = []

    def set_run(self, run: Any) -> None:
        self._run = run

    @property
    def run(self) -> Any:
        return self._run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._apps)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        raise NotImplementedError("NodeGrid delivers synchronously: use send_and_receive")

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        raise NotImplementedError("NodeGrid delivers synchronously: use send_and_receive")

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        replies = []
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = f"m{next(self._ids)}"  # what a SuperLink would assign
            node_id = msg.metadata.dst_node_id
            context = Context(
                run_id=self._run_id, node_id=node_id, node_config={}, state=RecordDict(), run_config={}
            )
            reply = self._apps[node_id](msg, context)
            self.check(reply, node_id)
            self.wire.extend([msg, reply])
            replies.append(reply)
        return replies

    def check(self, reply: Message, node_id: int) -> None:
        """Only model arrays of the agreed shapes and numeric metrics may leave a node."""
        content = reply.content
        extra = set(content) - {"arrays", "metrics"}
        if extra:
            raise IntegrityError(
                f"node {node_id} replied with {sorted(extra)}: only arrays and metrics may leave"
            )
        if "arrays" in content:
            shapes = [a.shape for a in content.array_records["arrays"].to_numpy_ndarrays()]
            if shapes != self._shapes:
                raise IntegrityError(
                    f"node {node_id} replied with arrays {shapes}, not the model's {self._shapes}"
                )
        if "metrics" in content:
            values = content.metric_records["metrics"].values()
            if not all(isinstance(v, int | float) for v in values):
                raise IntegrityError(f"node {node_id} replied with metrics that are not numbers")


@dataclass
class FederatedResult:
    arrays: list[F64]
    accuracy: dict[int, float]  # held-out accuracy after each round (0: the initial model)
    loss: dict[int, float]  # held-out log-loss after each round
    grid: NodeGrid
    participants: list[dict[str, Any]]


@dataclass(frozen=True)
class Training:
    """How to train: rounds, the local step, and the differential-privacy clipping and noise."""

    rounds: int = 5
    lr: float = 0.2
    epochs: int = 1
    clipping_norm: float = 0.5
    noise_multiplier: float = 0.05

    def check(self) -> None:
        if not 1 <= self.rounds <= 1000:
            raise InvalidInput("rounds must be 1 to 1000", field="rounds", limit=1000)
        if self.clipping_norm <= 0 or self.noise_multiplier < 0:
            raise InvalidInput("clipping_norm must be > 0 and noise_multiplier >= 0", field="clipping_norm")


def run_federated(
    coordinator: Node, buyer: str, participants: list[Participant], holdout: Holdout, *,
    classes: tuple[str, ...], training: Training | None = None, run_ref: str = "federated_run",
    clock: Callable[[], datetime] = utc_now,
) -> FederatedResult:  # fmt: skip
    """Train across ``participants`` with FedAvg under server-side fixed clipping; evaluate on ``holdout``."""
    plan = training or Training()
    plan.check()
    if len(participants) < 2:
        raise InvalidInput("a federated run needs at least 2 nodes", field="nodes", limit=2)
    model = LocalModel(classes)
    taking_part = [_describe(p) for p in participants]
    dp = {"clipping_norm": plan.clipping_norm, "noise_multiplier": plan.noise_multiplier}
    _audit(coordinator, buyer, "federated.run.started", run_ref,
           {"nodes": taking_part, "rounds": plan.rounds, "strategy": "FedAvg", "dp": dp})  # fmt: skip
    apps = {i + 1: client_app(p, model, buyer, clock) for i, p in enumerate(participants)}
    grid = NodeGrid(apps, model.shapes)
    accuracy: dict[int, float] = {}
    loss: dict[int, float] = {}

    def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        current = [a.astype(np.float64) for a in arrays.to_numpy_ndarrays()]
        accuracy[server_round], loss[server_round] = (
            model.accuracy(current, *holdout),
            model.loss(current, *holdout),
        )
        return MetricRecord({"accuracy": accuracy[server_round], "loss": loss[server_round]})

    n = len(participants)
    strategy = DifferentialPrivacyServerSideFixedClipping(
        FedAvg(min_train_nodes=n, min_evaluate_nodes=n, min_available_nodes=n),
        noise_multiplier=plan.noise_multiplier, clipping_norm=plan.clipping_norm, num_sampled_clients=n,
    )  # fmt: skip
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1  # this process is the server
    config = ConfigRecord({"lr": plan.lr, "epochs": plan.epochs, "run": run_ref})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Flower's own deprecations are not ours to fix
        result = strategy.start(grid, ArrayRecord(model.initial()), num_rounds=plan.rounds,
                                train_config=config, evaluate_fn=evaluate)  # fmt: skip
    final = [a.astype(np.float64) for a in result.arrays.to_numpy_ndarrays()]
    _audit(coordinator, buyer, "federated.run.finished", run_ref,
           {"nodes": taking_part, "accuracy": _keyed(accuracy), "loss": _keyed(loss)})  # fmt: skip
    return FederatedResult(final, accuracy, loss, grid, taking_part)


def _keyed(values: dict[int, float]) -> dict[str, float]:
    return {str(k): round(v, 6) for k, v in values.items()}


def _audit(node: Node, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
    with node.db.transaction() as s:
        node.audit.append(s, actor=actor, action=action, subject=subject[:200], details=details)


def _describe(p: Participant) -> dict[str, Any]:
    version = p.node.datasets.version_by_id(p.version_id)
    manifest = p.node.datasets.manifest(p.version_id)
    return {
        "node": p.name,
        "version_id": p.version_id,
        "manifest_cid": version.manifest_cid,
        "items": manifest.item_count,
        "jurisdictions": sorted({i.jurisdiction for i in manifest.items}),
    }
