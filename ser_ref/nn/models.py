"""The four architectures of the paper's Table 2 by name, and where each one's math lives.

    FrameDense     frame_nets.py     2048 -> 204 relu -> 4 softmax per frame; utterance = mean frame log-probability
    UtteranceLSTM  sequence_nets.py  LSTM(20, relu) over the utterance's frames -> dense softmax on the last state
    Dense1         two_stage.py      a FrameDense on half A of the training speakers; its frame probabilities on half B
    Dense1Dense2   two_stage.py      Dense2, a dense softmax, on chunk_len-frame chunks of Dense1's probabilities
    Dense1LSTM2    two_stage.py      LSTM2, LSTM(20, relu) -> dense softmax, over those chunks

What they share (standardisation with the training statistics, class weights, the utterance decision
as a normalised geometric mean, fit / predict_proba / predict / save / load, get_params / set_params)
is in estimator.py; persist.py loads a saved file of any of them; the reasons for every choice are in
docs/training-choices.md.

>>> sorted(MODELS)
['dense', 'dense1+dense2', 'dense1+lstm2', 'lstm']
"""
from __future__ import annotations

from .frame_nets import FrameDense
from .sequence_nets import UtteranceLSTM
from .two_stage import Dense1, Dense1Dense2, Dense1LSTM2

__all__ = ["MODELS", "FrameDense", "UtteranceLSTM", "Dense1", "Dense1Dense2", "Dense1LSTM2"]

# each class carries the name a saved file records (its ``system``)
MODELS = {cls.system: cls for cls in (FrameDense, UtteranceLSTM, Dense1Dense2, Dense1LSTM2)}
