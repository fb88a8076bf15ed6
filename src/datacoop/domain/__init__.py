"""Plain types, states and rules. No I/O; imports nothing else of DataCoop but errors."""
