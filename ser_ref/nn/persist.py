"""Load any of the four saved networks of ``ser_ref.nn.models`` by the name its file records.

A model saves itself (``UtteranceClassifier.save``: plain arrays in one ``ser_ref.files.modelfile``
.npz, its layout in ``ser_ref.nn.estimator``) and ``SomeModel.load`` rebuilds one of its own class;
this module, above the model classes, picks the class from the file (``MODELS[settings["system"]]``),
for a caller that does not know which network a file holds.
"""
from __future__ import annotations

from ..files import modelfile
from .estimator import KIND
from .models import MODELS


def model_arrays(model) -> tuple[dict, dict]:
    """(arrays, settings) of a fitted model: what ``model_from_arrays`` needs to rebuild it.

    Examples
    --------
    >>> import numpy as np
    >>> from ser_ref.nn import FrameDense
    >>> rng = np.random.default_rng(0)
    >>> feats = [rng.normal(size=(9, 5)) for _ in range(8)]
    >>> m = FrameDense(hidden=4, config={"epochs": 1}).fit(feats, np.arange(8) % 4)
    >>> arrays, settings = model_arrays(m)
    >>> sorted(arrays), settings["system"]
    (['mu', 'net/W0', 'net/W1', 'net/b0', 'net/b1', 'sd'], 'dense')
    """
    return model.to_arrays()


def model_from_arrays(arrays: dict, settings: dict, device: str = "cpu", source: str = "<arrays>"):
    """The fitted model ``model_arrays`` described, of the class its settings name, on ``device``.

    Examples
    --------
    >>> import numpy as np
    >>> from ser_ref.nn import UtteranceLSTM
    >>> rng = np.random.default_rng(0)
    >>> feats = [rng.normal(size=(9, 5)) for _ in range(8)]
    >>> m = UtteranceLSTM(units=3, config={"epochs": 1}).fit(feats, np.arange(8) % 4)
    >>> back = model_from_arrays(*model_arrays(m))
    >>> type(back).__name__, bool(np.array_equal(back.predict_proba(feats), m.predict_proba(feats)))
    ('UtteranceLSTM', True)
    """
    name = settings["system"]
    if name not in MODELS:
        raise modelfile.ModelFileError(f"{source}: unknown network {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name].from_arrays(arrays, settings, device, source)


def save_model(model, path, meta: dict | None = None) -> None:
    """Write a fitted network (plus ``meta``) to one .npz of plain arrays (``model.save``).

    >>> import os, tempfile
    >>> import numpy as np
    >>> from ser_ref.nn import FrameDense
    >>> rng = np.random.default_rng(0)
    >>> feats = [rng.normal(size=(30, 8)).astype(np.float32) + (i % 2) for i in range(8)]
    >>> m = FrameDense(n_classes=2, hidden=4, config="quick").fit(feats, np.arange(8) % 2)
    >>> p = os.path.join(tempfile.mkdtemp(), "dense.npz"); save_model(m, p)
    >>> bool(np.array_equal(load_model(p).predict_proba(feats), m.predict_proba(feats)))
    True
    """
    model.save(path, meta)


def load_model(path, device: str = "cpu"):
    """The network ``save_model`` wrote; ``ser_ref.files.modelfile.ModelFileError`` naming the file if not one.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npz"); open(p, "w").write("text")
    4
    >>> load_model(p)
    Traceback (most recent call last):
    ...
    ser_ref.files.modelfile.ModelFileError: ...x.npz: corrupt or not a ser_ref model file (not an .npz archive)
    """
    arrays, meta = modelfile.read(path, kind=KIND)
    return model_from_arrays(arrays, meta["network"], device=device, source=str(path))
