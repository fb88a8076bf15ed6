"""CID profiles: the chunk size and node width that, with raw leaves and CIDv1, fix a file's CID.

Sources:

* ``kubo-cidv1`` is what ``ipfs add --cid-version=1`` does with kubo's defaults:
  ``size-262144`` chunks (boxo ``chunker.DefaultBlockSize``) and 174 links per
  node (boxo ``importer/helpers.DefaultLinksPerBlock`` = 8192 / 47); version 1
  turns raw leaves on.
* ``unixfs-v1-2025`` is kubo's import profile of IPIP-499 (kubo
  ``config/profile.go``, kubo 0.40): ``Import.UnixFSChunker = "size-1048576"``,
  ``Import.UnixFSFileMaxLinks = 1024``, CIDv1, raw leaves, sha2-256, balanced layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from datacoop.errors import InvalidInput, did_you_mean

__all__ = ["DEFAULT_PROFILE", "DEFAULT_PROFILE_NAME", "PROFILES", "Profile", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """How a file is cut into a DAG (raw leaves, CIDv1 and sha2-256 are fixed).

    Attributes:
        name: the profile's name, as stored beside every blob.
        chunk_size: bytes per leaf.
        max_links: the most children of one node.
    """

    name: str
    chunk_size: int
    max_links: int

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise InvalidInput("cid_profile.chunk_size must be at least 1", field="cid_profile", limit=1)
        if self.max_links < 2:  # one link per node would stack nodes forever
            raise InvalidInput("cid_profile.max_links must be at least 2", field="cid_profile", limit=2)


DEFAULT_PROFILE_NAME = "kubo-cidv1"
PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(DEFAULT_PROFILE_NAME, chunk_size=262_144, max_links=174),
        Profile("unixfs-v1-2025", chunk_size=1_048_576, max_links=1024),
    )
}
DEFAULT_PROFILE = PROFILES[DEFAULT_PROFILE_NAME]


def get_profile(name: str) -> Profile:
    """The profile called ``name``.

    Raises:
        InvalidInput: (field ``cid_profile``) for an unknown name, with the nearest known one.
    """
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        known = ", ".join(PROFILES)
        raise InvalidInput(
            f"unknown CID profile {name!r} (known: {known}).{did_you_mean(str(name), PROFILES)}",
            field="cid_profile",
        ) from None
