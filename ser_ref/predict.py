"""The old command path, kept so that ``python -m ser_ref.predict`` works: see ``ser_ref.commands.predict``."""
from ser_ref.commands.predict import main

if __name__ == "__main__":
    raise SystemExit(main())
