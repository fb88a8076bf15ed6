"""Content addressing: the CIDv1 ``ipfs add --cid-version=1`` prints, computed while bytes stream.

A file is cut into fixed-size chunks stored as raw leaves (codec raw, 0x55);
leaves are gathered into a balanced tree of dag-pb UnixFS file nodes (codec
dag-pb, 0x70) of at most ``max_links`` children; every block is hashed with
sha2-256; the root's CID is written in base32. A file of one chunk (the empty
file included) is named by that raw leaf itself. With the default profile the
result is byte for byte what kubo's ``ipfs add --cid-version=1`` gives.

Public surface::

    Profile, PROFILES, DEFAULT_PROFILE, get_profile     how files are cut
    CidBuilder                                           streaming: update(...) then finish()
    Block, iter_blocks                                   the DAG's blocks themselves (for CAR files)
    cid_of_bytes, cid_of_stream, cid_of_file             one-call forms
    parse_cid                                            validate and normalise user-given CIDs
"""

from __future__ import annotations

from datacoop.cid._blocks import Block, iter_blocks
from datacoop.cid._builder import CidBuilder, cid_of_bytes, cid_of_file, cid_of_stream
from datacoop.cid._cidv1 import parse_cid
from datacoop.cid._profiles import DEFAULT_PROFILE, DEFAULT_PROFILE_NAME, PROFILES, Profile, get_profile

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_PROFILE_NAME",
    "PROFILES",
    "Block",
    "CidBuilder",
    "Profile",
    "cid_of_bytes",
    "cid_of_file",
    "cid_of_stream",
    "get_profile",
    "iter_blocks",
    "parse_cid",
]
