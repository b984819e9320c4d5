"""The old command path, kept so that ``python -m ser_ref.explain`` works: see ``ser_ref.commands.explain``."""
from ser_ref.commands.explain import main

if __name__ == "__main__":
    raise SystemExit(main())
