"""The old command path, kept so that ``python -m ser_ref.reproduce`` works: see ``ser_ref.commands.reproduce``."""
from ser_ref.commands.reproduce import main

if __name__ == "__main__":
    raise SystemExit(main())
