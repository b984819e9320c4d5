"""The command path ``python -m ser_ref.publish``: see ``ser_ref.commands.publish``."""
from ser_ref.commands.publish import main

if __name__ == "__main__":
    raise SystemExit(main())
