"""Domain models, enums and errors: no Qt and no I/O."""
