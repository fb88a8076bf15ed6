"""What an *open* algorithm (any buyer's code) may release: one aggregate of a declared shape.

The publisher of a version chooses its release mode (:class:`ReleasePolicy`):

* ``approved``: only algorithms whose sha256 the publisher approved run; their outputs are
  released after the size, type and fingerprint checks (:func:`~datacoop.compute.outputs.check_outputs`).
* ``open``: any licensed buyer's code runs, and the only thing that leaves is ``result.json``::

      {"metrics": {"accuracy": 0.93}, "parameters": {"mean_rgb": [[200.1, 40.2, 39.8], ...]}}

  Metric names must be among those declared (``metrics``), parameters must have exactly the
  declared shapes, every value a finite number. The node does not release the job's bytes: it
  re-encodes the numbers (rounded to ``digits`` significant digits, optionally with Laplace or
  Gaussian noise), and the re-encoding must fit in ``budget_fraction`` of the version's size.
  Why an aggregate is withheld never repeats a name the job chose (keys, file names): the reason
  is shown to the buyer, so it would be a way out.

Differential privacy: with ``mechanism`` ``laplace`` (or ``gaussian``) every released number is
first clipped into ``bounds``, so whatever the buyer's code computed, changing the data moves one
number by at most the bounds' width: that width is the sensitivity, for any algorithm. Each of
the k numbers gets noise calibrated to it and ε/k (δ/k), so one job spends ``epsilon`` (basic
composition); :mod:`datacoop.compute.policies` keeps the sum per buyer and dataset under
``epsilon_budget``.
"""

from __future__ import annotations

import builtins
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datacoop.compute.fingerprints import Fingerprints

__all__ = ["MECHANISMS", "MODES", "Aggregate", "ReleasePolicy", "open_log", "release_aggregate"]

MODES = ("approved", "open")
MECHANISMS = ("none", "laplace", "gaussian")
RESULT = "result.json"


@dataclass(frozen=True)
class ReleasePolicy:
    """A version's release rules (the default: open, metrics only, no noise)."""

    mode: str = "open"
    approved: tuple[str, ...] = ()  # sha256 hex of approved algorithm sources
    metrics: tuple[str, ...] = ("accuracy", "loss", "items")
    parameters: dict[str, tuple[int, ...]] = field(default_factory=dict)
    budget_fraction: float = 0.05
    digits: int = 6
    mechanism: str = "none"
    epsilon: float = 0.0  # spent by one released job
    delta: float = 1e-6  # gaussian only
    bounds: tuple[float, float] = (0.0, 1.0)  # each released number is clipped into these (with noise)
    epsilon_budget: float = 0.0  # per buyer and dataset; 0 with a mechanism: nothing may be released


@dataclass(frozen=True)
class Aggregate:
    """A released aggregate: the bytes the node wrote and the ε it spent."""

    data: bytes
    epsilon: float


def _shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a nested list of numbers, or None when it is ragged or holds anything else."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    return tuple(array.shape) if np.isfinite(array).all() else None


def _parse(path: Path, policy: ReleasePolicy) -> tuple[dict[str, float], dict[str, Any]] | str:
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return f"{RESULT} is not JSON"
    if not isinstance(doc, dict) or set(doc) - {"metrics", "parameters"}:
        return f"{RESULT} must be an object with only 'metrics' and 'parameters'"
    metrics, params = doc.get("metrics", {}), doc.get("parameters", {})
    if not isinstance(metrics, dict) or not isinstance(params, dict):
        return "'metrics' and 'parameters' must be objects"
    if extra := sorted(set(metrics) - set(policy.metrics)):
        declared = ", ".join(policy.metrics) or "none"
        return f"{len(extra)} metric name(s) are not declared (declared: {declared})"
    bad = [k for k, v in metrics.items() if isinstance(v, bool) or not isinstance(v, int | float)]
    bad += [k for k, v in metrics.items() if k not in bad and not math.isfinite(v)]
    if bad:  # the names are declared ones (checked above): the publisher's words, not the job's
        return f"metric {bad[0]!r} is not a finite number"
    if extra := sorted(set(params) - set(policy.parameters)):
        declared = ", ".join(policy.parameters) or "none"
        return f"{len(extra)} parameter name(s) are not declared (declared: {declared})"
    for name, value in params.items():
        shape = policy.parameters[name]
        if _shape(value) != tuple(shape):
            return f"parameter {name!r} does not have the declared shape {list(shape)} of finite numbers"
    return {k: float(v) for k, v in metrics.items()}, params


def _noise(policy: ReleasePolicy, count: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    if policy.mechanism == "none" or count == 0:
        return np.zeros(count)
    eps, sensitivity = policy.epsilon / count, policy.bounds[1] - policy.bounds[0]
    if policy.mechanism == "laplace":
        return rng.laplace(0.0, sensitivity / eps, count)
    sigma = sensitivity * math.sqrt(2 * math.log(1.25 / (policy.delta / count))) / eps
    return rng.normal(0.0, sigma, count)


def _round(values: np.ndarray[Any, Any], digits: int) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in values.tolist()]


def release_aggregate(
    out_dir: Path, files: list[str], policy: ReleasePolicy, data_bytes: int, prints: Fingerprints,
    rng: np.random.Generator,
) -> Aggregate | str:  # fmt: skip
    """The node's re-encoding of the job's aggregate, or the reason it is withheld.

    ``prints`` (the inputs' fingerprints) are a last check on the re-encoding: defence in depth.
    """
    if files != [RESULT]:
        return f"an open algorithm may release only {RESULT!r} (it wrote {len(files)} file(s) in all)"
    parsed = _parse(out_dir / RESULT, policy)
    if isinstance(parsed, str):
        return parsed
    metrics, params = parsed
    flat = np.concatenate([np.array(list(metrics.values()))] + [np.ravel(params[n]) for n in sorted(params)])
    if policy.mechanism != "none":
        flat = np.clip(flat, *policy.bounds)
    noisy = _round(flat + _noise(policy, flat.size, rng), policy.digits)
    released: dict[str, Any] = {"metrics": dict(zip(metrics, noisy[: len(metrics)], strict=True))}
    at, shaped = len(metrics), {}
    for name in sorted(params):
        size = int(np.prod(policy.parameters[name]))
        shaped[name] = np.array(noisy[at : at + size]).reshape(policy.parameters[name]).tolist()
        at += size
    released["parameters"] = shaped
    data = json.dumps(released, sort_keys=True, separators=(",", ":")).encode()
    budget = int(policy.budget_fraction * data_bytes)
    if len(data) > budget:
        share = f"{policy.budget_fraction:g} of the data"
        return f"the aggregate is {len(data):,} bytes, over its budget of {budget:,} bytes ({share})"
    if (match := prints.find(data)) is not None:
        return f"the aggregate contains bytes of input item {match.input_name!r}"
    return Aggregate(data, policy.epsilon if policy.mechanism != "none" else 0.0)


_EXCEPTION = re.compile(rb"^([A-Za-z_][A-Za-z0-9_]*)(?::|$)", re.MULTILINE)


def open_log(log: bytes) -> str:
    """An open algorithm's log is an output too, so none of it leaves: only how the job ended.

    The exception's name is shown when it is one of Python's own (a class the job defines could
    be named after the data).
    """
    names = [m.decode() for m in _EXCEPTION.findall(log[-4096:])]
    ended = next((n for n in reversed(names) if isinstance(getattr(builtins, n, None), type)), None)
    note = f"; the job ended with {ended}" if ended else ""
    return f"[log withheld: an open algorithm releases only its aggregate{note}]"
