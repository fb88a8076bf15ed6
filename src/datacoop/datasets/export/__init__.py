"""Dataset exports: one module per format, every one a plugin found the way a third party's would be.

Each exporter streams a version from its manifest and the blob store into a
folder, holding a bounded buffer whatever the dataset's size (see ``_base``)::

    webdataset   tar shards of a set size, {key}.{ext} + {key}.json per sample
    parquet      one row per item, metadata columns (and the bytes with with_bytes=True)
    hf           a folder datasets.load_dataset(folder) loads offline
    croissant    croissant.json (MLCommons Croissant 1.1) beside the Parquet file it describes
    car          a CARv1 file of every blob's IPFS blocks and the manifest, same CIDs as IPFS
    datasheet    datasheet.md, "Datasheets for Datasets" filled from the manifest

Built-in exporters are registered under the ``datacoop.exporters`` entry point
(pyproject.toml), where third-party packages add theirs; :func:`exporters`
merges both, with :data:`EXPORTERS` as the fallback when the package metadata is
stale (an editable install made before an exporter was added). :func:`get_format`
gives an exporter with the options its module declares (``OPTIONS``, see ``_base``).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import cast, get_args

from datacoop.datasets.export._base import Exporter, ExportResult, OpenBlob, OptionName, Progress
from datacoop.errors import InvalidInput, Unavailable, did_you_mean

__all__ = [
    "ENTRY_POINT_GROUP",
    "EXPORTERS",
    "ExportFormat",
    "ExportResult",
    "Exporter",
    "OpenBlob",
    "OptionName",
    "Progress",
    "exporters",
    "get_exporter",
    "get_format",
]

ENTRY_POINT_GROUP = "datacoop.exporters"
# Format name -> "module:function", as in the entry points: a format's libraries load only when it is used.
EXPORTERS: dict[str, str] = {
    "webdataset": "datacoop.datasets.export.webdataset:export",
    "parquet": "datacoop.datasets.export.parquet:export",
    "hf": "datacoop.datasets.export.huggingface:export",
    "croissant": "datacoop.datasets.export.croissant:export",
    "car": "datacoop.datasets.export.car:export",
    "datasheet": "datacoop.datasets.export.datasheet:export",
}


@functools.cache
def exporters() -> dict[str, str]:
    """Every export format and where its exporter lives: the built-ins and the entry point's."""
    found = dict(EXPORTERS)
    found.update((ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP))
    return found


@dataclass(frozen=True)
class ExportFormat:
    """An export format: its name, its exporter and the options that exporter takes."""

    name: str
    exporter: Exporter
    options: frozenset[OptionName]


def get_exporter(name: str) -> Exporter:
    """The exporter for format ``name`` (see :func:`get_format` for the errors)."""
    return get_format(name).exporter


def get_format(name: str) -> ExportFormat:
    """The format ``name``: its exporter, and the options its module declares in ``OPTIONS``.

    Raises:
        InvalidInput: (``--format``) an unknown format, with the known ones.
        Unavailable: (``--format``) the exporter's libraries are not installed.
        TypeError: the module's ``OPTIONS`` names an option the export path does not know.
    """
    available = exporters()
    if name not in available:
        known = ", ".join(sorted(available))
        raise InvalidInput(
            f"unknown export format {name!r} (known: {known}).{did_you_mean(name, available)}",
            field="--format",
        )
    module_name, _, attribute = available[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise Unavailable(
            f"the {name} exporter cannot load ({exc}); install DataCoop with its export extra "
            "(pip install 'datacoop[export]')",
            field="--format",
        ) from exc
    declared = frozenset(getattr(module, "OPTIONS", frozenset()))
    unknown = sorted(str(option) for option in declared - frozenset(get_args(OptionName)))
    if unknown:
        raise TypeError(f"{module_name}.OPTIONS names unknown export options: {', '.join(unknown)}")
    return ExportFormat(
        name, cast(Exporter, getattr(module, attribute)), cast(frozenset[OptionName], declared)
    )
