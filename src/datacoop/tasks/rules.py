"""Tasks: what a requester asks for, and the rules an item must meet."""

from __future__ import annotations

import enum

__all__ = ["Modality", "TaskStatus"]


class Modality(enum.StrEnum):
    IMAGE = "image"
    TEXT = "text"
    AUDIO = "audio"


class TaskStatus(enum.StrEnum):
    """A task takes submissions only while open; closing is final."""

    OPEN = "open"
    CLOSED = "closed"
