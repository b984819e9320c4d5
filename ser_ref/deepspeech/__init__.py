"""The transfer half of the paper: MFCC -> 19-frame context windows -> DeepSpeech layer 1.

    context_windows(mfcc)        (frames, 26) -> (frames, 494), zero-padded strided view
    Layer1                       min(relu(x @ W1 + b1), 20), modes "float" and "tflite-int8"
    load_layer1(model=None)      find / fetch / export the model's weights (cached)
    deepspeech_features(signal)  signal -> (frames, 2048), all of the above chained
    export_model(tflite, npz)    the exporter (every layer + metadata + integrity hash)
    DeepSpeech                   the whole acoustic model: layers 1-6, streaming, greedy transcripts
    load_deepspeech(model=None)  the same sources as load_layer1, for the whole model
"""
from .npz_export import export_model
from .layer1 import Layer1
from .layer_features import deepspeech_features, deepspeech_features_batch
from .load import load_deepspeech, load_layer1
from .model import DeepSpeech
from .windows import context_windows

__all__ = ["context_windows", "Layer1", "load_layer1", "DeepSpeech", "load_deepspeech", "deepspeech_features", "deepspeech_features_batch", "export_model"]
