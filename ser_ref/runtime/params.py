"""The scikit-learn parameter surface shared by every estimator: ``get_params`` / ``set_params``.

An estimator's parameters are exactly its constructor's keyword arguments, stored unchanged under
the same names (checking them is ``fit``'s job), so the constructor's signature is the one list of
them and ``type(est)(**est.get_params())`` builds an unfitted twin. What ``fit`` learns ends in an
underscore and is not a parameter.
"""
from __future__ import annotations

import inspect
from functools import lru_cache

import numpy as np

from ..errors import SerRefError


@lru_cache(maxsize=None)
def param_names(cls) -> tuple[str, ...]:
    """The names of ``cls``'s constructor arguments, in order (none for a class without ``__init__``).

    Examples
    --------
    >>> class Tree(Params):
    ...     def __init__(self, depth=3, *, seed=0):
    ...         self.depth, self.seed = depth, seed
    >>> param_names(Tree)
    ('depth', 'seed')
    """
    if cls.__init__ is object.__init__:
        return ()
    names = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self":
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):  # the signature must list every parameter
            raise TypeError(f"{cls.__name__}.__init__ takes *args/**kwargs: its parameters cannot be read")
        names.append(p.name)
    return tuple(names)


def check_whole(value, name: str, low: int, none_ok: bool = False, error=SerRefError):
    """An integer parameter >= low (or None where allowed) as an int, or ``error`` naming it.

    Examples
    --------
    >>> check_whole(3, "n_trees", 1)
    3
    >>> check_whole(2.5, "n_trees", 1)
    Traceback (most recent call last):
    ...
    ser_ref.errors.SerRefError: n_trees must be an integer >= 1, got 2.5
    """
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        allowed = f"None or an integer >= {low}" if none_ok else f"an integer >= {low}"
        raise error(f"{name} must be {allowed}, got {value!r}")
    return int(value)


class Params:
    """``get_params`` and ``set_params`` from the constructor's signature (scikit-learn's BaseEstimator).

    Examples
    --------
    >>> class Tree(Params):
    ...     def __init__(self, depth=3, seed=0):
    ...         self.depth, self.seed = depth, seed
    >>> t = Tree(depth=5).set_params(seed=2)
    >>> t.get_params(), type(t)(**t.get_params()).get_params() == t.get_params()
    ({'depth': 5, 'seed': 2}, True)
    >>> t.set_params(depht=1)
    Traceback (most recent call last):
    ...
    ser_ref.errors.SerRefError: Tree has no parameter 'depht'; its parameters are depth, seed
    """

    def get_params(self, deep: bool = True) -> dict:
        """{name: value} of every constructor argument (``deep`` is scikit-learn's; no parameter here
        is itself an estimator)."""
        return {name: getattr(self, name) for name in param_names(type(self))}

    def set_params(self, **params):
        """Set constructor arguments by name (they take effect at the next ``fit``); returns self."""
        names = param_names(type(self))
        for name in params:  # all named before any is set: a typo leaves the estimator as it was
            if name not in names:
                raise SerRefError(f"{type(self).__name__} has no parameter {name!r}; "
                                  f"its parameters are {', '.join(names) or 'none'}")
        for name, value in params.items():
            setattr(self, name, value)
        return self
