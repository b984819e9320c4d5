"""The old command path, kept so that ``python -m ser_ref.audit`` works: see ``ser_ref.commands.audit``."""
from ser_ref.commands.audit import main

if __name__ == "__main__":
    raise SystemExit(main())
