"""Compute-to-data and federated learning: the buyer's computation goes to the data.

``algorithm`` checks what a buyer submits, ``sandbox`` runs it beside the data, ``outputs`` and
``fingerprints`` decide what may leave, ``signing`` makes download links, ``licences`` is the
port that says who may compute on which version, and ``federated`` trains with Flower.
"""
