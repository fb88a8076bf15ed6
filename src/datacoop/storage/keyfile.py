"""A secret the node keeps in its data directory: generated on first use, readable by its owner only."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["node_secret"]


def node_secret(path: Path) -> str:
    """The hex secret in ``path``; 32 random bytes written there (mode 0600) the first time it is asked for.

    The secret is written to a private temporary file and then linked into place, so the file never
    exists half-written, and of two processes starting at once the first link wins and both read it.
    """
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_text().strip()
