"""ser_ref: an auditable reference implementation of Andova, Bromuri & Lustrek (2020),
"Using Mozilla's DeepSpeech to Improve Speech Emotion Recognition".

Pipeline stages, one module each:
    audio.py        read, mix to mono, resample to 16 kHz, validate
    mfcc.py         TensorFlow-compatible MFCC (the model file's own sub-graph)
    deepspeech/     exporter of the .tflite weights, context windows, layer 1
    egemaps/        openSMILE-equivalent eGeMAPS v02 functionals (the RF baseline's features)
    forest.py       CART random forest
    nn/             dense and LSTM layers with hand-written backprop; the paper's four models
    corpora.py      corpus loaders and the synthetic corpus
    evaluate.py     leave-one-speaker-out evaluation and metrics
    reproduce.py    Table 2 and Figure 3 end to end
"""

__version__ = "0.1.0"
