"""The old command path, kept so that ``python -m ser_ref.layers`` works: see ``ser_ref.commands.layers``."""
from ser_ref.commands.layers import main

if __name__ == "__main__":
    raise SystemExit(main())
