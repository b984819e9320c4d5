"""The old command path, kept so that ``python -m ser_ref.transcribe`` works: see ``ser_ref.commands.transcribe``."""
from ser_ref.commands.transcribe import main

if __name__ == "__main__":
    raise SystemExit(main())
