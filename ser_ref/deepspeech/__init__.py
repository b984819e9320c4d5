"""The transfer half of the paper: MFCC -> 19-frame context windows -> DeepSpeech layer 1.

    context_windows(mfcc)        (frames, 26) -> (frames, 494), zero-padded strided view
    Layer1                       min(relu(x @ W1 + b1), 20), modes "float" and "tflite-int8"
    load_layer1(model=None)      find / fetch / export the model's weights (cached)
    deepspeech_features(signal)  signal -> (frames, 2048), all of the above chained
    export_model(tflite, npz)    the exporter (layers 1, 2, 3, 5 + metadata)
"""
from .export import export_model
from .features import deepspeech_features, deepspeech_features_batch
from .layer1 import Layer1
from .load import load_layer1
from .windows import context_windows

__all__ = ["context_windows", "Layer1", "load_layer1", "deepspeech_features", "deepspeech_features_batch", "export_model"]
