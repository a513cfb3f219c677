"""Conformance cases for the models people build (issue 13's zoo): one per kind of model the issue names."""

from __future__ import annotations

from .base import _L, KERAS, KERAS2C, ONNX_BACKEND, TF2ONNX, Case, _fn, _seq  # noqa: F401

CASES: tuple[Case, ...] = (
    # ---- the models people build (issue 13's zoo)
    Case(
        "cnn-lstm",
        "issue 13: Conv1D -> pooling -> LSTM (text / sensor CNN-LSTM)",
        lambda: _seq(
            (12, 3),
            _L().Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu"),
            _L().MaxPooling1D(2),
            _L().Conv1D(4, 2, padding="same"),
            _L().LSTM(5),
            _L().Dense(2),
        ),
    ),
    Case(
        "causal-cnn-lstm-streaming",
        "issue 13: causal dilated Conv1D -> LSTM, streamed (the step models carry the conv's last inputs)",
        lambda: _seq(
            (8, 2),
            _L().Conv1D(3, 3, padding="causal", dilation_rate=2, activation="relu"),
            _L().Conv1D(2, 1, padding="causal"),
            _L().LSTM(4, return_sequences=True),
            _L().TimeDistributed(_L().Dense(1)),
        ),
        streaming=True,
    ),
    Case(
        "seq2seq-time_distributed",
        "issue 13: LSTM(return_sequences) -> TimeDistributed(Dense) sequence labelling",
        lambda: _seq((6, 2), _L().LSTM(5, return_sequences=True), _L().TimeDistributed(_L().Dense(3)), _L().Softmax()),
        streaming=True,
    ),
    Case(
        "lstm-autoencoder",
        f"{KERAS}: LSTM -> RepeatVector -> LSTM -> TimeDistributed(Dense)",
        lambda: _seq(
            (5, 2),
            _L().LSTM(4),
            _L().RepeatVector(5),
            _L().LSTM(3, return_sequences=True),
            _L().TimeDistributed(_L().Dense(2)),
        ),
    ),
    Case(
        "lstm-flatten-softmax",
        "TFLite LSTM codelab: LSTM -> Flatten -> Dense softmax",
        lambda: _seq((7, 4), _L().LSTM(6, return_sequences=True), _L().Flatten(), _L().Dense(3, activation="softmax")),
    ),
    Case(
        "norms-and-activations",
        "issue 13: BatchNormalization, LayerNormalization, ReLU/LeakyReLU/PReLU/ELU heads",
        lambda: _seq(
            (5, 3),
            _L().BatchNormalization(),
            _L().GRU(6, return_sequences=True),
            _L().LayerNormalization(),
            _L().GlobalAveragePooling1D(),
            _L().LeakyReLU(),
            _L().Dense(4),
            _L().PReLU(),
            _L().ELU(),
            _L().ReLU(max_value=2.0),
            _L().Dense(1),
        ),
    ),
    Case(
        "residual-merges",
        "issue 13: functional two-branch model with Concatenate/Add/Multiply/Average",
        _fn(
            lambda k, L: (
                lambda x: (
                    lambda a, b: k.Model(
                        x,
                        L.Dense(1)(
                            L.Flatten()(
                                L.Average()(
                                    [L.Multiply()([a, b]), L.Add()([a, b]), L.Dense(4)(L.Concatenate()([a, b]))]
                                )
                            )
                        ),
                    )
                )(L.LSTM(4, return_sequences=True)(x), L.GRU(4, return_sequences=True)(x))
            )(k.Input((4, 2)))
        ),
    ),
    Case(
        "stateful-chunks",
        "issue 13: stateful=True LSTM streamed in chunks (Keras rnn stateful tests)",
        lambda: _seq(
            (5, 2),
            _L().LSTM(4, stateful=True, return_sequences=True),
            _L().GRU(3, stateful=True),
            _L().Dense(1),
            batch_size=1,
        ),
        streaming=True,
    ),
    Case(
        "masking-padded",
        "issue 13: Masking + padded batches -> stacked GRU/LSTM (the padded-sequence tutorial model)",
        lambda: _seq((6, 2), _L().Masking(0.0), _L().GRU(4, return_sequences=True), _L().LSTM(3), _L().Dense(1)),
    ),
    Case(
        "masking-bidirectional-seq",
        "issue 13: Masking -> Bidirectional(LSTM, return_sequences) -> Dense (Keras's unrolled form differs here)",
        lambda: _seq(
            (6, 2), _L().Masking(-1.0), _L().Bidirectional(_L().LSTM(3, return_sequences=True)), _L().Dense(2)
        ),
    ),
    Case(
        "embedding-mask_zero",
        "issue 13: Embedding(mask_zero=True) -> LSTM text classifier",
        lambda: _seq((6,), _L().Embedding(20, 4, mask_zero=True), _L().LSTM(3), _L().Dense(1)),
    ),
    Case(
        "multi-output-heads",
        "issue 13: one LSTM, two Dense heads",
        _fn(
            lambda k, L: (lambda x: (lambda h: k.Model(x, [L.Dense(1)(h), L.Dense(2)(h)]))(L.LSTM(3)(x)))(
                k.Input((5, 2))
            )
        ),
    ),
    Case(
        "two-inputs-sequence-and-static",
        "issue 13: a sequence through an LSTM and a static feature vector Input((K,)), concatenated into the head",
        _fn(
            lambda k, L: (lambda x, v: k.Model([x, v], L.Dense(2)(L.Concatenate()([L.LSTM(4)(x), L.Dense(3)(v)]))))(
                k.Input((5, 2), name="series"), k.Input((3,), name="static")
            )
        ),
    ),
    Case(
        "initial-state-streaming",
        "issue 13: GRU(return_sequences)(x, initial_state=h0) -> TimeDistributed(Dense), streamed from the given h0",
        _fn(
            lambda k, L: (
                lambda x, h: k.Model(
                    [x, h], L.TimeDistributed(L.Dense(2))(L.GRU(4, return_sequences=True)(x, initial_state=h))
                )
            )(k.Input((5, 3), name="x"), k.Input((4,), name="h0"))
        ),
        streaming=True,
    ),
    Case(
        "two-inputs-two-sequences",
        "issue 13: two sequences of the same length, joined per step (Concatenate) into one GRU",
        _fn(
            lambda k, L: (lambda a, b: k.Model([a, b], L.GRU(3)(L.Concatenate()([a, b]))))(
                k.Input((4, 2), name="a"), k.Input((4, 1), name="b")
            )
        ),
    ),
    Case(
        "free-time",
        "issue 13: keras.Input((None, F))",
        lambda: _seq((None, 2), _L().GRU(3), _L().Dense(1)),
    ),
    Case(
        "sequence-output-shortened",
        "issue 13: Conv1D(strides=2) on a sequence output: fewer output steps than input steps",
        lambda: _seq((6, 2), _L().LSTM(3, return_sequences=True), _L().Conv1D(2, 2, strides=2)),
    ),
    Case(
        "lambda",
        "issue 13: Lambda stays refused",
        lambda: _seq((4, 1), _L().Lambda(lambda t: t * 2), _L().LSTM(2)),
        refused="Lambda",
        peer="none (arbitrary Python cannot be proven)",
    ),
)
