"""``python -m ser_ref.audit``: every stage of ser_ref against a trusted reference, in one table.

References are optional oracles (ai-edge-litert running the model file, opensmile, PyTorch,
scikit-learn) and plain mathematics (float64 finite differences, float64 recomputation). A stage
whose oracle is not installed is skipped with the reason; any failure gives a non-zero exit code.
"""
from .oracle_checks import CHECKS, Result, Skip, run_all

__all__ = ["CHECKS", "Result", "Skip", "run_all"]
