"""The old command path, kept so that ``python -m ser_ref.egemaps`` works: see ``ser_ref.commands.egemaps``."""
from ser_ref.commands.egemaps import main

if __name__ == "__main__":
    raise SystemExit(main())
