"""Neural networks written by hand: dense, relu, softmax cross-entropy and LSTM layers as
forward/backward function pairs, Adam, and the paper's four architectures (Table 2)."""
from .activations import relu_backward, relu_forward, sigmoid
from .validation import NNInputError
from .dense import dense_backward, dense_forward
from .lstm import lstm_backward, lstm_forward
from .models import MODELS, Dense1, Dense1Dense2, Dense1LSTM2, FrameDense, UtteranceLSTM
from .softmax_ce import log_softmax, softmax, softmax_cross_entropy_backward, softmax_cross_entropy_forward
from .training import DEFAULT, QUICK, TrainConfig

__all__ = [
    "dense_forward", "dense_backward", "relu_forward", "relu_backward", "sigmoid",
    "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "log_softmax", "softmax",
    "lstm_forward", "lstm_backward", "TrainConfig", "DEFAULT", "QUICK", "MODELS",
    "FrameDense", "UtteranceLSTM", "Dense1", "Dense1Dense2", "Dense1LSTM2", "NNInputError",
]
