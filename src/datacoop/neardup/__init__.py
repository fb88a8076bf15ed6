"""Exact near-duplicate search over 64-bit perceptual hashes (pHash).

:class:`HammingIndex` answers "every stored hash within Hamming distance ``r``
of this one" exactly, at tens of millions of items, by multi-index hashing
(Norouzi, Punjani and Fleet, *Fast Search in Hamming Space with Multi-Index
Hashing*, CVPR 2012):

- the 64 bits are permuted and cut into ``m = 3`` parts of 22, 21 and 21 bits;
  for radius 8 every true neighbour differs in at most 2 bits in some part
  (pigeonhole), so a query probes each part's buckets within 2 flips
  (254 + 232 + 232 = 718 buckets) and verifies the candidates by popcount;
- each part is a direct-address directory of 2**w buckets (uint32 offsets)
  over a copy of the hashes grouped by bucket, with the row of each;
- the bit permutation is learnt from the stored hashes so that pairs 9-20
  bits apart (images made alike) rarely share a part;
- new items wait in a pending buffer searched by brute force and are merged
  in one O(n) pass; removals are tombstones dropped at the next merge;
- :meth:`HammingIndex.save` writes a new version atomically and
  :meth:`HammingIndex.load` memory-maps it, so a restart costs nothing.

Memory: 3 x (8 + 4) bytes per item in the parts, 8 for the id, plus the
32 MiB directory (~48 bytes per item at 10M). Speed: ``benchmarks/neardup.py``.
Why 3 parts: with 16-bit parts (m = 4) buckets hold 150 items each at 10M and a
query reads ~29,000 candidates; with 21-22 bits it reads ~2,800 (uniform
hashes), for 4 more bytes per item of directory. Two 32-bit parts would need
41,449 probes per part.
"""

from datacoop.neardup._index import MAX_RADIUS, HammingIndex, Match
from datacoop.neardup._layout import Layout

__all__ = ["MAX_RADIUS", "HammingIndex", "Layout", "Match"]
