"""The old command path, kept so that ``python -m ser_ref.cross_corpus`` works: see ``ser_ref.commands.cross_corpus``."""
from ser_ref.commands.cross_corpus import main

if __name__ == "__main__":
    raise SystemExit(main())
