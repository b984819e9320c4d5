"""The old command path, kept so that ``python -m ser_ref.deepspeech`` works: see ``ser_ref.commands.export``."""
from ser_ref.commands.export import main

if __name__ == "__main__":
    raise SystemExit(main())
