"""The command path ``python -m ser_ref.protocol``: see ``ser_ref.commands.protocol``."""
from ser_ref.commands.protocol import main

if __name__ == "__main__":
    raise SystemExit(main())
