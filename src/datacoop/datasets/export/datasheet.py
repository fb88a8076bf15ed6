"""A datasheet in Markdown, in the sections of Gebru et al., "Datasheets for Datasets" (2018/2021).

Motivation, composition, collection process, preprocessing/cleaning/labelling,
uses, distribution and maintenance, each filled from what the manifest records:
counts by jurisdiction, media type, label and review outcome, contributors,
consent texts, sizes and the changes since the previous version. Questions the
manifest cannot answer are left for the publisher, marked ``TODO (publisher)``.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from datacoop.datasets.export._base import (
    ExportResult,
    OpenBlob,
    OptionName,
    Progress,
    atomic_file,
    prepare_out_dir,
)
from datacoop.datasets.manifest import Manifest, ManifestItem

__all__ = ["FILE_NAME", "OPTIONS", "export", "render"]

OPTIONS: frozenset[OptionName] = frozenset()
"""The options :mod:`datacoop.datasets.exporting` passes this exporter (see :data:`._base.OptionName`)."""

FILE_NAME = "datasheet.md"
_TODO = "_TODO (publisher)_"


def export(
    manifest: Manifest,
    open_blob: OpenBlob,
    out_dir: Path,
    *,
    progress: Progress | None = None,
) -> ExportResult:
    """Write ``datasheet.md`` under ``out_dir`` (from the manifest alone: no blob is opened)."""
    out_dir = prepare_out_dir(out_dir)
    path = out_dir / FILE_NAME
    with atomic_file(path) as partial:
        partial.write_text(render(manifest), encoding="utf-8")
    if progress is not None:
        progress(manifest.item_count, manifest.item_count)
    return ExportResult("datasheet", (path,), manifest.item_count, 0)


@dataclass
class _Tally:
    """What the datasheet counts, gathered in one pass over the items."""

    jurisdictions: Counter[str] = field(default_factory=Counter)
    media_types: Counter[str] = field(default_factory=Counter)
    classes: Counter[str] = field(default_factory=Counter)
    label_keys: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    licences: Counter[str] = field(default_factory=Counter)
    contributors: set[str] = field(default_factory=set)
    consents: set[str] = field(default_factory=set)
    tasks: set[int] = field(default_factory=set)
    votes: list[int] = field(default_factory=list)
    posteriors: list[float] = field(default_factory=list)
    auto_accepted: int = 0
    unlabelled: int = 0
    total_bytes: int = 0

    @classmethod
    def of(cls, items: Iterable[ManifestItem]) -> _Tally:
        tally = cls()
        for item in items:
            tally.add(item)
        return tally

    def add(self, item: ManifestItem) -> None:
        self.jurisdictions[item.jurisdiction] += 1
        self.media_types[item.media_type] += 1
        self.licences[item.licence] += 1
        self.contributors.add(item.contributor)
        self.consents.add(item.consent_hash)
        self.tasks.add(item.task_id)
        self.total_bytes += item.size
        self.label_keys.update(list(item.labels))  # a dict would add its values
        if "class" in item.labels:
            self.classes[str(item.labels["class"])] += 1
        self.unlabelled += not item.labels
        self._add_review(item.review)

    def _add_review(self, review: dict[str, object]) -> None:
        self.outcomes[str(review.get("outcome", "unknown"))] += 1
        self.auto_accepted += review.get("auto") is True
        votes, posterior = review.get("votes"), review.get("posterior")
        if isinstance(votes, int) and not isinstance(votes, bool):
            self.votes.append(votes)
        if isinstance(posterior, int | float) and not isinstance(posterior, bool):
            self.posteriors.append(float(posterior))


def render(manifest: Manifest) -> str:
    """The datasheet of one version, as Markdown."""
    tally = _Tally.of(manifest.iter_items())
    sections = [
        f"# Datasheet: {manifest.name}, version {manifest.version}\n",
        _summary(manifest, tally),
        _motivation(manifest, tally),
        _composition(manifest, tally),
        _collection(manifest, tally),
        _preprocessing(tally),
        _uses(manifest),
        _distribution(manifest, tally),
        _maintenance(manifest),
    ]
    return "\n".join(sections)


def _table(title: str, counts: Counter[str], total: int) -> str:
    rows = [f"| {title} | items | share |", "|---|---:|---:|"]
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    rows += [f"| {key} | {n:,} | {n / total:.1%} |" for key, n in ranked]
    return "\n".join(rows) + "\n"


def _summary(manifest: Manifest, tally: _Tally) -> str:
    domain = manifest.eip712_domain
    return (
        f"{manifest.item_count:,} items ({tally.total_bytes:,} bytes) from {len(tally.contributors):,} "
        f"contributors, created {manifest.created_at}, licence {manifest.licence}.\n\n"
        f"- Items root (Merkle, OpenZeppelin StandardMerkleTree): `{manifest.items_root}`\n"
        f"- Previous version's manifest: `{manifest.previous or 'none (first version)'}`\n"
        f"- Every item is traceable to a contribution signed with EIP-712 (domain {domain.get('name', '?')} "
        f"v{domain.get('version', '?')}, chain {domain.get('chainId', '?')}); "
        "`datacoop dataset verify manifest.json` checks them.\n"
    )


def _motivation(manifest: Manifest, tally: _Tally) -> str:
    return (
        "## Motivation\n\n"
        f"- **For what purpose was the dataset created?** It gathers the accepted items of DataCoop tasks "
        f"{', '.join(map(str, sorted(tally.tasks)))} selected by the query below. {_TODO}\n"
        "- **Who created it, on whose behalf?** Community contributors through DataCoop, paid on chain per "
        f"accepted item; published as dataset {manifest.dataset_id}. {_TODO}\n"
        f"- **Who funded it?** The requesters who escrowed each task's rewards. {_TODO}\n\n"
        f"Query that defines this version: `{_compact(manifest.query)}`\n"
    )


def _composition(manifest: Manifest, tally: _Tally) -> str:
    n = max(manifest.item_count, 1)
    parts = [
        "## Composition\n",
        f"- **Instances:** {manifest.item_count:,} items, {tally.total_bytes:,} bytes in all; "
        f"{len(tally.tasks)} task(s).\n"
        "- **Is it a sample?** It is every accepted item matching the query at freeze time, "
        "less withdrawals.\n"
        "- **Does it contain data about people?** Contributors are identified only by wallet DIDs; "
        "pre-screening removes EXIF/GPS and flags faces and personal data. "
        f"{_TODO}\n",
        _table("media type", tally.media_types, n),
        _table("jurisdiction", tally.jurisdictions, n),
    ]
    if tally.classes:
        parts.append(_table("label class", tally.classes, n))
    keys = ", ".join(f"`{key}` ({count:,})" for key, count in sorted(tally.label_keys.items()))
    parts.append(f"Label fields: {keys or 'none'}; items without labels: {tally.unlabelled:,}.\n")
    return "\n".join(parts)


def _collection(manifest: Manifest, tally: _Tally) -> str:
    return (
        "## Collection process\n\n"
        f"- Items were uploaded by {len(tally.contributors):,} distinct contributors (did:pkh wallets), each "
        "with an EIP-712 signature over task, content CID, consent hash, jurisdiction, nonce and deadline.\n"
        f"- Consent: {len(tally.consents)} distinct consent text(s) were agreed to (hashes in the manifest); "
        "contributors may withdraw consent for future versions.\n"
        f"- Jurisdictions of collection: {', '.join(sorted(tally.jurisdictions)) or 'none'}.\n"
        f"- Timeframe: up to {manifest.created_at}. {_TODO}\n"
    )


def _preprocessing(tally: _Tally) -> str:
    votes = f"{statistics.mean(tally.votes):.1f}" if tally.votes else "n/a"
    posterior = f"{statistics.mean(tally.posteriors):.3f}" if tally.posteriors else "n/a"
    outcomes = ", ".join(f"{name}: {n:,}" for name, n in sorted(tally.outcomes.items()))
    return (
        "## Preprocessing, cleaning and labelling\n\n"
        "- Pre-screening: decoding and size limits, EXIF/GPS scrubbing (the manifest lists the scrubbed "
        "blob; the original is named only by a hash), quality, exact and near-duplicate removal, relevance, "
        "personal data and fraud checks.\n"
        f"- Review outcomes: {outcomes or 'none'}; "
        f"accepted without votes (automatic): {tally.auto_accepted:,}.\n"
        f"- Validator votes per item (mean): {votes}; mean posterior of the aggregated label: {posterior}.\n"
        "- Raw data: the originals are not distributed.\n"
    )


def _uses(manifest: Manifest) -> str:
    return (
        "## Uses\n\n"
        f"- Permitted under the licence `{manifest.licence}` and the consent each contributor gave.\n"
        f"- Tasks for which it should not be used: {_TODO}\n"
        "- Items withdrawn by their contributors leave the next version; users should move to it.\n"
    )


def _distribution(manifest: Manifest, tally: _Tally) -> str:
    licences = ", ".join(f"{name} ({n:,})" for name, n in sorted(tally.licences.items()))
    return (
        "## Distribution\n\n"
        "- Exports: WebDataset shards, Parquet, a Hugging Face folder, Croissant JSON-LD and CAR files whose "
        "blocks have the same CIDs as on IPFS (`datacoop dataset export`).\n"
        f"- Licence of the version: {manifest.licence}; of the items: {licences or 'none'}.\n"
        "- Versions are anchored on chain where the node runs one (DatasetRegistry: manifest CID, items "
        "root, count); `datacoop dataset show` tells whether this one is.\n"
    )


def _maintenance(manifest: Manifest) -> str:
    removed = manifest.changes.get("removed", [])
    reasons = Counter(str(entry.get("reason", "unknown")) for entry in removed if isinstance(entry, dict))
    why = "; ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items()))
    return (
        "## Maintenance\n\n"
        f"- Since the previous version: {len(manifest.changes.get('added', [])):,} item(s) added, "
        f"{len(removed):,} removed{f' ({why})' if why else ''}.\n"
        "- Versions are immutable; corrections and withdrawals appear as a new version with its diff.\n"
        f"- Maintainer and contact: {_TODO}\n"
    )


def _compact(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
