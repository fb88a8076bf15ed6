"""DataCoop's built-in stages, registered under the datacoop.stages entry point."""
