"""DataCoop: community-sourced AI training data with verifiable provenance."""

__version__ = "0.1.0"
