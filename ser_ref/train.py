"""The old command path, kept so that ``python -m ser_ref.train`` works: see ``ser_ref.commands.train``."""
from ser_ref.commands.train import main

if __name__ == "__main__":
    raise SystemExit(main())
