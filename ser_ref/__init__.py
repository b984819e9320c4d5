"""ser_ref: an auditable reference implementation of Andova, Bromuri & Lustrek (2020),
"Using Mozilla's DeepSpeech to Improve Speech Emotion Recognition".

Pipeline stages, one module each:
    audio.py        read, mix to mono, resample to 16 kHz, validate
    framing.py      frames x_t[n] = x[t*step + n], the one cut TF's MFCC and openSMILE's front end share
    tf_mfcc.py      TensorFlow's MFCC: AudioSpectrogram + Mfcc, the model file's own sub-graph (tf_ names:
                    TF's mel scale and filterbank, beside openSMILE's in egemaps/mel.py)
    deepspeech/     .tflite reader and exporter, registry fetch, context windows, layer 1, and the whole
                    acoustic model (model.py: layers 1-6, LSTM, greedy CTC; bit-exact to the interpreter)
    egemaps/        openSMILE-equivalent eGeMAPS v02 functionals (the RF baseline's features)
    forest.py       the random-forest estimator (fit / predict_proba, validation, save / load)
    cart.py         CART trees on flat arrays: Gini split, growing, prediction, NumPy references
    splitmix.py     the forest's random numbers (splitmix64, bootstrap counts), one stream per tree
    radix_sort.py   the tree grower's node sort (integer rank keys); numba_threads.py: n_jobs
    nn/             dense, softmax-CE and LSTM layers with hand-written backprop (lstm_loop.py: the LSTM's
                    time loop compiled, beside lstm.py's NumPy reference); Adam; the four models:
                    frame_nets.py (Frame Dense), sequence_nets.py (LSTM), two_stage.py (Dense1 -> Dense2 /
                    LSTM2), estimator.py (what they share), models.py (the registry by name)
    corpora/        corpus loaders and the synthetic corpus
    evaluate.py     leave-one-speaker-out evaluation, metrics, bootstrap CIs, McNemar
    feature_cache.py per-file features cached by content hash
    hashing.py      sha256 of files and bytes (the identity of audio and weights; low, imports nothing of ours)
    systems.py      the registry of Table 2's systems by name (make / fit_predict, reproduce's defaults)
    splits.py       split generators: LOSO folds, cross-corpus pairs
    runner.py       every system on every split: tasks, shared Dense1, checkpoints and resume
    experiment.py   the rows of Table 2 and the Figure 3 sweep as runner entries
    reproduce.py    Table 2 and Figure 3 end to end (python -m ser_ref.reproduce)
    train.py        one system trained on all speakers, saved (python -m ser_ref.train)
    predict.py      a trained model on your own audio (python -m ser_ref.predict)
    explain.py      one utterance through every stage, figures + explain.md (python -m ser_ref.explain)
    modelfile.py    trained models as plain-array .npz with a format version and an integrity hash
    cross_corpus.py train on corpus A, test on corpus B (python -m ser_ref.cross_corpus)
    transcribe.py   greedy transcripts of audio files (python -m ser_ref.transcribe)
    layers.py       which DeepSpeech layer carries emotion (python -m ser_ref.layers)
    report.py       tables, figures, manifest
    audit/          every stage against its oracle (python -m ser_ref.audit)
    gpu/            CuPy kernels behind the same functions (device="gpu")
    backend.py      the NumPy/CuPy switch; executors.py: serial, process pool or Dask
    blas_threads.py NumPy's OpenBLAS single-threaded for a call, so our own threads own the cores
    errors.py       the error types (the one-line error convention, cli_main: commands/common.py);
                    atomic.py: atomic writes and the output-folder lock (docs/reliability.md)
"""

__version__ = "0.1.0"
