"""Datasets: frozen, versioned sets of accepted items with a verifiable manifest.

``manifest`` is the manifest of one version (canonical JSON, Merkle root): ``Manifest``,
``ManifestItem``, ``canonical_json``, ``items_root``. ``service`` freezes versions and takes
withdrawals, ``anchoring`` publishes versions in DatasetRegistry, ``verify`` checks them offline.
"""
