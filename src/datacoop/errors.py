"""DataCoop's one error hierarchy.

Every error a user can meet is a :class:`DataCoopError`. Each class carries a
stable ``code``, the HTTP status the API answers with and the exit code the
CLI ends with; :data:`ERROR_TABLE` is the one place that mapping is written::

    DataCoopError                      500  exit 1   internal
    ├── InvalidInput                   400  exit 2   invalid_input      (names the field and the limit)
    │   ├── TooLarge                   413  exit 2   too_large
    │   ├── UnsupportedMediaType       415  exit 2   unsupported_media_type
    │   └── Unprocessable              422  exit 2   unprocessable      (out of range, or not canonical)
    ├── NotAuthenticated               401  exit 3   not_authenticated
    │   └── BadSignature               401  exit 3   bad_signature
    ├── Forbidden                      403  exit 3   forbidden
    ├── NotFound                       404  exit 4   not_found
    ├── Conflict                       409  exit 5   conflict
    │   ├── ReplayedNonce              409  exit 5   replayed_nonce
    │   └── InvalidTransition          409  exit 5   invalid_transition
    ├── Gone                           410  exit 5   gone               (expired deadlines, closed tasks)
    ├── IntegrityError                 422  exit 6   integrity          (content does not match its CID)
    ├── RateLimited                    429  exit 8   rate_limited       (names the limit; ``Retry-After``)
    ├── QuotaExceeded                  429  exit 8   quota_exceeded     (a cap that no wait lifts)
    └── Unavailable                    503  exit 7   unavailable        (a backing service is down)

An error builds its own message from its fields, so callers say *what* went
wrong (``field``, ``limit``, ``value``) rather than formatting prose.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "ERROR_TABLE",
    "BadSignature",
    "Conflict",
    "DataCoopError",
    "Forbidden",
    "Gone",
    "IntegrityError",
    "InvalidInput",
    "InvalidTransition",
    "NotAuthenticated",
    "NotFound",
    "QuotaExceeded",
    "RateLimited",
    "ReplayedNonce",
    "TooLarge",
    "Unavailable",
    "Unprocessable",
    "UnsupportedMediaType",
    "did_you_mean",
    "error_from_body",
]


class DataCoopError(Exception):
    """Base of every error DataCoop raises on purpose.

    Args:
        message: what went wrong, in one sentence a user can act on.
        field: the input field at fault (dotted path), if any.
        limit: the limit that was broken, if any (shown to the user).
    """

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, field: str | None = None, limit: Any = None) -> None:
        self.message = message
        self.field = field
        self.limit = limit
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the API answers with (``{"error": {...}}``)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.limit is not None:
            body["limit"] = self.limit
        return {"error": body}

    def headers(self) -> dict[str, str]:
        """HTTP headers the API answers with besides the body (none, unless a subclass says so)."""
        return {}


class InvalidInput(DataCoopError):
    code = "invalid_input"
    http_status = 400
    exit_code = 2


class TooLarge(InvalidInput):
    code = "too_large"
    http_status = 413

    def __init__(self, field: str, limit: int, unit: str = "bytes") -> None:
        super().__init__(f"{field} is larger than the limit of {limit:,} {unit}", field=field, limit=limit)


class UnsupportedMediaType(InvalidInput):
    code = "unsupported_media_type"
    http_status = 415


class NotAuthenticated(DataCoopError):
    code = "not_authenticated"
    http_status = 401
    exit_code = 3


class BadSignature(NotAuthenticated):
    code = "bad_signature"


class Forbidden(DataCoopError):
    code = "forbidden"
    http_status = 403
    exit_code = 3


class NotFound(DataCoopError):
    code = "not_found"
    http_status = 404
    exit_code = 4


class Conflict(DataCoopError):
    code = "conflict"
    http_status = 409
    exit_code = 5


class ReplayedNonce(Conflict):
    code = "replayed_nonce"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class Gone(DataCoopError):
    code = "gone"
    http_status = 410
    exit_code = 5


class IntegrityError(DataCoopError):
    code = "integrity"
    http_status = 422
    exit_code = 6


class Unprocessable(InvalidInput):
    """Input that parses but breaks a rule: an id beyond 64 bits, a value not in its canonical form."""

    code = "unprocessable"
    http_status = 422


class RateLimited(DataCoopError):
    """Too many requests of one kind from one address or client; ``retry_after`` says when to try again.

    Args:
        limit_name: which limit was reached (``sign_in``, ``uploads``, ``submissions``).
        key: whose counter it was (``address 0x…`` or ``client 1.2.3.4``).
        limit: requests allowed per window.
        window_s: the window's length in seconds.
        retry_after: seconds until the window ends.
    """

    code = "rate_limited"
    http_status = 429
    exit_code = 8

    def __init__(self, limit_name: str, key: str, limit: int, window_s: int, retry_after: int) -> None:
        super().__init__(
            f"rate limit {limit_name!r} reached for {key}: at most {limit} requests per {window_s} s; "
            f"try again in {retry_after} s",
            field=limit_name,
            limit=limit,
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class QuotaExceeded(DataCoopError):
    """A contributor reached a cap of a task (e.g. submissions per contributor); waiting does not lift it.

    Args:
        field: the setting that holds the cap (``max_submissions_per_contributor``).
        limit: the cap.
        what: what was capped, in a few words (``submissions by 0x… to task 7``).
    """

    code = "quota_exceeded"
    http_status = 429
    exit_code = 8

    def __init__(self, field: str, limit: int, what: str) -> None:
        super().__init__(f"quota {field!r} reached: at most {limit} {what}", field=field, limit=limit)


class Unavailable(DataCoopError):
    code = "unavailable"
    http_status = 503
    exit_code = 7


ERROR_TABLE: dict[type[DataCoopError], tuple[int, int]] = {
    cls: (cls.http_status, cls.exit_code)
    for cls in (
        DataCoopError,
        InvalidInput,
        TooLarge,
        UnsupportedMediaType,
        NotAuthenticated,
        BadSignature,
        Forbidden,
        NotFound,
        Conflict,
        ReplayedNonce,
        InvalidTransition,
        Gone,
        IntegrityError,
        Unprocessable,
        RateLimited,
        QuotaExceeded,
        Unavailable,
    )
}
"""Every error class with its (HTTP status, CLI exit code); the API and CLI read only this."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A " Did you mean 'x'?" suffix for an unknown name, or an empty string."""
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def error_from_body(body: dict[str, Any]) -> DataCoopError:
    """Rebuild the error an API answer describes (the SDK raises what the server raised)."""
    by_code = {cls.code: cls for cls in ERROR_TABLE}
    cls = by_code.get(str(body.get("code")), DataCoopError)
    exc = cls.__new__(cls)
    # Subclasses build messages from their own arguments; here the message is already built.
    DataCoopError.__init__(
        exc, str(body.get("message", "")), field=body.get("field"), limit=body.get("limit")
    )
    return exc
