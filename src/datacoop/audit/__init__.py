"""The audit log: append-only, hash-chained, anchored on chain."""
