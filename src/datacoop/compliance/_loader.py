"""Reading and writing policy files: YAML in, a checked :class:`Policy` out, or an error naming the field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from datacoop.compliance._policy import Policy
from datacoop.errors import InvalidInput, NotFound

__all__ = ["DEFAULT_POLICY", "dump_policy", "load_policy", "parse_policy"]

DEFAULT_POLICY = "default.yaml"
_SHOWN_ERRORS = 5


def load_policy(path: Path | None = None) -> Policy:
    """The policy at ``path``, or the default shipped with DataCoop when ``path`` is None.

    Raises:
        NotFound: no file at ``path``.
        InvalidInput: not YAML, or not a valid policy; the message names the field at fault.
    """
    if path is None:
        text = resources.files("datacoop.compliance").joinpath("policies", DEFAULT_POLICY).read_text("utf-8")
        return parse_policy(text, source=f"datacoop/compliance/policies/{DEFAULT_POLICY}")
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise NotFound(
            f"compliance policy file {str(path)!r} does not exist", field="compliance_policy"
        ) from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Check a policy given as YAML text; ``source`` names it in errors."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source} is not valid YAML: {exc}", field="compliance_policy") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{source} must hold a mapping (version, reviewed, groups, rules)", field="policy")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, source) from None


def dump_policy(policy: Policy) -> str:
    """The policy as YAML that :func:`parse_policy` reads back to an equal policy."""
    data = policy.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data = {"version": policy.version, "reviewed": policy.reviewed.isoformat(), **data}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def _invalid(exc: ValidationError, source: str) -> InvalidInput:
    errors = exc.errors(include_url=False)
    lines = [f"{_path(e['loc'])}: {e['msg']}" for e in errors[:_SHOWN_ERRORS]]
    more = f" (and {len(errors) - _SHOWN_ERRORS} more)" if len(errors) > _SHOWN_ERRORS else ""
    first = _path(errors[0]["loc"]) if errors else "policy"
    return InvalidInput(f"{source} is not a valid policy: " + "; ".join(lines) + more, field=first)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "policy"
