"""Save and load the four fitted networks of ``ser_ref.nn.models`` as plain arrays (``ser_ref.files.modelfile``).

What a fitted model needs to predict, and nothing else:
    settings     the class and its constructor arguments (hidden, units, chunk_len, activation, ...)
                 and the TrainConfig (max_len crops the LSTM's input at prediction time)
    mu, sd       the standardisation statistics of the training frames (x - mu) / sd (Dense1's
                 in the two-stage models)
    nets         every sub-network's parameters, named <net>/<parameter>: net/W0 (Frame Dense,
                 LSTM), dense1/W0 and dense2/W0 or lstm2/W (the two-stage models)
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from ..files import modelfile
from ..runtime.backend import to_host
from ..errors import NotFittedError
from .frame_nets import FrameNet
from .models import MODELS
from .sequence_nets import SequenceNet
from .training import TrainConfig

KIND = "network"
# the sub-networks of each model: (name, "frame" | "seq", on the standardised frames?); the fitted model holds
# each as the attribute name + "_" (net_, dense1_, dense2_, lstm2_), its arrays are stored as name/...
NETS = {
    "dense": (("net", "frame", True),),
    "lstm": (("net", "seq", True),),
    "dense1+dense2": (("dense1", "frame", True), ("dense2", "frame", False)),
    "dense1+lstm2": (("dense1", "frame", True), ("lstm2", "seq", False)),
}
_CTOR = ("n_classes", "seed", "hidden", "units", "chunk_len", "activation")


def system_name(model) -> str:
    """The MODELS key of a model instance.

    >>> from ser_ref.nn import FrameDense
    >>> system_name(FrameDense())
    'dense'
    """
    for name, cls in MODELS.items():
        if type(model) is cls:
            return name
    raise TypeError(f"not one of the models in ser_ref.nn.MODELS: {type(model).__name__}")


def _config_meta(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    if isinstance(d["class_weights"], (tuple, list, np.ndarray)):
        d["class_weights"] = [float(w) for w in d["class_weights"]]
    return d


def model_arrays(model) -> tuple[dict, dict]:
    """(arrays, settings) of a fitted model: what ``model_from_arrays`` needs to rebuild it.

    Examples
    --------
    >>> from ser_ref.nn import FrameDense
    >>> rng = np.random.default_rng(0)
    >>> m = FrameDense(hidden=4, config={"epochs": 1}).fit([rng.normal(size=(9, 5)) for _ in range(8)], np.arange(8) % 4)
    >>> arrays, settings = model_arrays(m)
    >>> sorted(arrays), settings["system"], settings["hidden"]
    (['mu', 'net/W0', 'net/W1', 'net/b0', 'net/b1', 'sd'], 'dense', 4)
    """
    if not hasattr(model, "n_features_in_"):
        raise NotFittedError(f"this {type(model).__name__} is not fitted yet: call fit(feats, y) before save")
    name = system_name(model)
    arrays = {}
    standardised = getattr(model, "dense1_", model)  # a two-stage model standardises in its Dense1
    if standardised.mu_ is not None:
        arrays["mu"], arrays["sd"] = standardised.mu_, standardised.sd_
    for attr, _, _ in NETS[name]:
        sub = getattr(model, attr + "_")
        for k, v in (sub.net_ if attr == "dense1" else sub).params.items():
            arrays[f"{attr}/{k}"] = to_host(v)
    settings = {"system": name, "n_features": model.n_features_in_, "config": _config_meta(model.config),
                **{k: getattr(model, k) for k in _CTOR if hasattr(model, k)}}
    return arrays, settings


def model_from_arrays(arrays: dict, settings: dict, device: str = "cpu", source: str = "<arrays>"):
    """The fitted model ``model_arrays`` described, on ``device`` ("cpu" or "gpu").

    Examples
    --------
    >>> from ser_ref.nn import FrameDense
    >>> rng = np.random.default_rng(0)
    >>> feats = [rng.normal(size=(9, 5)) for _ in range(8)]
    >>> m = FrameDense(hidden=4, config={"epochs": 1}).fit(feats, np.arange(8) % 4)
    >>> bool(np.array_equal(model_from_arrays(*model_arrays(m)).predict_proba(feats), m.predict_proba(feats)))
    True
    """
    name = settings["system"]
    if name not in NETS:
        raise modelfile.ModelFileError(f"{source}: unknown network {name!r}; expected one of {sorted(NETS)}")
    cfg = dict(settings["config"])
    if isinstance(cfg.get("class_weights"), list):
        cfg["class_weights"] = tuple(cfg["class_weights"])
    kwargs = {k: settings[k] for k in _CTOR if k in settings}
    model = MODELS[name](device=device, config=TrainConfig(**cfg), **kwargs)
    n_features = int(settings["n_features"])
    standardised = model.make_dense1() if hasattr(model, "make_dense1") else model  # who standardises
    standardised.mu_ = standardised.sd_ = None
    if "mu" in arrays:
        standardised.mu_, standardised.sd_ = arrays["mu"].astype(np.float32), arrays["sd"].astype(np.float32)
    for attr, shape, on_frames in NETS[name]:
        params = {k.split("/", 1)[1]: model.xp.asarray(v) for k, v in arrays.items() if k.startswith(attr + "/")}
        if not params:
            raise modelfile.ModelFileError(f"{source}: the {name} model has no {attr} parameters")
        net = _net(shape, params, model, standardised.standardize if on_frames else None)
        if attr == "dense1":
            standardised.net_, standardised.n_features_in_ = net, n_features
            net = standardised
        setattr(model, attr + "_", net)
    model.n_features_in_ = n_features
    return model


def _net(shape, params, model, prep):
    """A FrameNet ("frame") or SequenceNet ("seq") of the model's settings around loaded parameters;
    ``prep`` standardises its input (None: the second stage, which reads probabilities)."""
    if shape == "frame":
        n = sum(1 for k in params if k.startswith("W"))
        sizes = [params["W0"].shape[0]] + [params[f"W{k}"].shape[1] for k in range(n)]
        net = FrameNet(sizes, model.config, model.xp, prep)
    else:
        max_len = model.config.max_len if prep is not None else None  # LSTM2's chunks are never cropped
        net = SequenceNet(params["W"].shape[0], params["U"].shape[0], params["Wo"].shape[1], model.activation,
                          model.config, model.xp, max_len=max_len, prep=prep)
    net.params = params
    return net


def save_model(model, path, meta: dict | None = None) -> None:
    """Write a fitted network (plus ``meta``) to one .npz of plain arrays.

    >>> import os, tempfile
    >>> from ser_ref.nn import FrameDense
    >>> rng = np.random.default_rng(0)
    >>> feats = [rng.normal(size=(30, 8)).astype(np.float32) + (i % 2) for i in range(8)]
    >>> m = FrameDense(n_classes=2, hidden=4, config="quick").fit(feats, np.arange(8) % 2)
    >>> p = os.path.join(tempfile.mkdtemp(), "dense.npz"); save_model(m, p)
    >>> bool(np.array_equal(load_model(p).predict_proba(feats), m.predict_proba(feats)))
    True
    """
    arrays, settings = model_arrays(model)
    modelfile.write(path, KIND, arrays, {**(meta or {}), "network": settings})


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
