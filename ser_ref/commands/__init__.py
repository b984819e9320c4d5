"""The command-line programs, one module per command: parse, validate, call the library, report."""
