"""ser_ref: an auditable reference implementation of Andova, Bromuri & Lustrek (2020),
"Using Mozilla's DeepSpeech to Improve Speech Emotion Recognition".

The package in layers, from the bottom up (a module imports its own layer and those below;
docs/architecture.md draws them, tests/test_import_layers.py holds the code to them):

    errors.py       the error types and machine_error (the one-line error convention: commands/common.py)
    files/          atomic writes and the output-folder lock (atomic), sha256 of files and bytes (hashing),
                    cache and model locations, trained models as checked plain-array .npz (modelfile)
    runtime/        the NumPy/CuPy switch and the one check of a device value (backend);
                    NumPy's OpenBLAS single-threaded for a call (blas_threads)
    frontend/       read, mix to mono, resample, validate (audio); the one framing cut (framing);
                    TensorFlow's MFCC, the model file's own sub-graph (tf_mfcc)
    corpora/        the corpus loaders and the synthetic corpus; Item, LABELS, LoadReport (items)
    egemaps/        openSMILE-equivalent eGeMAPS v02 functionals (the forest baseline's features)
    deepspeech/     .tflite reader and exporter, registry fetch, context windows, layer 1, the whole
                    acoustic model (layers 1-6, LSTM, greedy CTC; bit-exact to the interpreter), layer features
    forest/         CART trees on flat arrays (cart), their random numbers (splitmix), the node sort
                    (radix_sort), n_jobs (numba_threads); the estimator RandomForest (random_forest)
    nn/             dense, softmax-CE and LSTM layers with hand-written backprop (lstm_loop: the compiled
                    time loop), Adam (optim), the training loop and its config (training); the four
                    models: frame_nets, sequence_nets, two_stage, estimator (what they share), models
                    (the registry by name), persist (save / load)
    gpu/            CuPy + CUDA kernels mirroring the hot CPU paths, each beside its reference's name
    dispatch.py     for each mirrored op, the CPU function or the GPU kernel (by array type or device)
    evaluation/     dataset (FeatureSpec, build_dataset: corpus items -> cached features -> the runner's
                    dataset), feature_kinds (the feature-kind registry), feature_cache (per-file features by
                    content hash), splits (LOSO, cross-corpus, other toolkits' fold files: fold_files),
                    systems (Table 2's systems by name), runner (every system on every split, checkpoints),
                    table2 (the rows of Table 2 and Figure 3), metrics (accuracy, UAR, CIs, McNemar),
                    report (tables, figures, manifest), executors (serial, process pool or Dask)
    walkthrough/    one utterance through every stage, as figures (for the explain command)
    audit/          every stage against its oracle (python -m ser_ref.audit)
    commands/       common.py: the shared command-line layer (options, bounds, cli_main, RunSettings in
                    evaluation/run_settings.py); then one module per command: reproduce, cross_corpus, layers, train, predict, explain,
                    transcribe, audit, export, egemaps (python -m ser_ref.commands.<name>, console scripts)
    reproduce.py, cross_corpus.py, layers.py, train.py, predict.py, explain.py, transcribe.py:
                    the old command paths, one line each (python -m ser_ref.<command> keeps working)
"""

__version__ = "0.1.0"
