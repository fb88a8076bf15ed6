"""The shapes DataCoop's services take and return, shared by the API, the CLI and the SDK.

One family per concept (``XCreate`` in, ``XPublic`` out). Field constraints here
are the limits users meet: a pydantic error names the field and the limit, and
the API turns it into ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "MAX_BIGINT",
    "MAX_ID",
    "UINT256_END",
    "IsoDate",
    "IsoDateTime",
    "RowId",
]

MAX_ID = 2**31 - 1
"""The largest row id: keys are PostgreSQL ``INTEGER`` columns (signed 32-bit; SQLite's are wider)."""
MAX_BIGINT = 2**63 - 1
"""The largest offset, count or time in seconds: a signed 64-bit integer."""
UINT256_END = 2**256


def _as_text(value: object) -> object:
    """Times in a request are ISO 8601 text, as the schema says (pydantic reads a number as unix time)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write it as ISO 8601 text (e.g. 2027-01-31 or 2027-01-31T00:00:00Z), not a number")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_as_text)]
"""A date and time in a request body: ISO 8601 text only."""
IsoDate = Annotated[date, BeforeValidator(_as_text)]
"""A date in a request body: YYYY-MM-DD only."""
RowId = Annotated[int, Field(ge=1, le=MAX_ID, description="a row id, 1 to 2**31-1")]
Uint256 = Annotated[int, Field(ge=0, lt=UINT256_END)]
Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="0x-prefixed 32-byte hex")]
EcdsaSignature = Annotated[
    str,
    Field(
        pattern=r"^0x[0-9a-fA-F]{128}(0[01]|1[bcBC])$",
        description="65 bytes r‖s‖v as 0x-hex, v 27 or 28 (0 or 1 accepted)",
    ),
]
IMAGE_FORMATS = ("jpeg", "png", "webp", "gif", "tiff", "bmp")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- identity ---------------------------------------------------------------------------------


# --- tasks ------------------------------------------------------------------------------------


# --- blobs ------------------------------------------------------------------------------------


# --- submissions ------------------------------------------------------------------------------


# --- community review -------------------------------------------------------------------------
