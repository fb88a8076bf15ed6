"""`datacoop demo`: DataCoop's whole loop on the embedded stack, with generated data and simulated people."""

from datacoop.demo.scenario import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
