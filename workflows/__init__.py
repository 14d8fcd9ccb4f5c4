"""One module per process. Deterministic code only: no I/O, clocks or randomness outside ``workflow.*``."""
