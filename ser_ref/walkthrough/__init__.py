"""One utterance through every stage, with the figures of docs/walkthrough.md."""
