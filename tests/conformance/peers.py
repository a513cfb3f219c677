"""Conformance cases from peers' test files: keras2c's recurrent tests, tf2onnx's keras2onnx layer
tests, ONNX's RNN/GRU/LSTM backend cases (as the Keras layers they describe). Each cites its source."""

from __future__ import annotations

from .base import _L, KERAS, KERAS2C, ONNX_BACKEND, TF2ONNX, Case, _fn, _seq  # noqa: F401

CASES: tuple[Case, ...] = (
    # ---- keras2c's recurrent tests (shapes as there; stateful ones exported from a stateless clone)
    Case(
        "k2c-SimpleRNN1",
        f"{KERAS2C} test_SimpleRNN1",
        lambda: _seq((4, 46), _L().SimpleRNN(17, activation="relu", stateful=True), batch_size=4),
    ),
    Case(
        "k2c-SimpleRNN2",
        f"{KERAS2C} test_SimpleRNN2",
        lambda: _seq((34, 17), _L().SimpleRNN(40, go_backwards=True, return_sequences=True)),
    ),
    Case(
        "k2c-SimpleRNN3",
        f"{KERAS2C} test_SimpleRNN3",
        lambda: _seq((34, 17), _L().SimpleRNN(40, return_sequences=True, use_bias=False)),
    ),
    Case(
        "k2c-LSTM1",
        f"{KERAS2C} test_LSTM1",
        lambda: _seq((23, 32), _L().LSTM(19, activation="relu", recurrent_activation="hard_sigmoid")),
    ),
    Case(
        "k2c-LSTM2",
        f"{KERAS2C} test_LSTM2",
        lambda: _seq(
            (4, 80),
            _L().LSTM(23, go_backwards=True, return_sequences=True, activation="sigmoid", recurrent_activation="tanh"),
        ),
    ),
    Case(
        "k2c-LSTM3",
        f"{KERAS2C} test_LSTM3",
        lambda: _seq(
            (4, 80),
            _L().LSTM(
                23,
                return_sequences=True,
                activation="sigmoid",
                recurrent_activation="tanh",
                use_bias=False,
                stateful=True,
            ),
            batch_size=3,
        ),
    ),
    Case(
        "k2c-GRU1",
        f"{KERAS2C} test_GRU1",
        lambda: _seq((12, 46), _L().GRU(17, activation="softmax", recurrent_activation="softsign")),
    ),
    Case(
        "k2c-GRU2",
        f"{KERAS2C} test_GRU2",
        lambda: _seq(
            (12, 46),
            _L().GRU(17, activation="softplus", return_sequences=True, go_backwards=True, stateful=True),
            batch_size=5,
        ),
    ),
    Case(
        "k2c-GRU3",
        f"{KERAS2C} test_GRU3",
        lambda: _seq((12, 46), _L().GRU(17, activation="softplus", return_sequences=True, use_bias=False)),
    ),
    # ---- tf2onnx's keras2onnx layer tests
    Case(
        "tf2onnx-simpleRNN", f"{TF2ONNX} test_simpleRNN", lambda: _seq((3, 1), _L().SimpleRNN(2, return_sequences=True))
    ),
    Case(
        "tf2onnx-simpleRNN-initial_state",
        f"{TF2ONNX} test_simpleRNN (with initial state)",
        _fn(
            lambda k, L: (
                lambda x, s: k.Model(
                    [x, s],
                    L.Dense(2, activation="sigmoid")(
                        L.SimpleRNN(5, activation="relu", return_sequences=True)(x, initial_state=[s])
                    ),
                )
            )(k.Input((1, 2)), k.Input((5,)))
        ),
    ),
    Case(
        "tf2onnx-LSTM_with_initializer",
        f"{TF2ONNX} test_LSTM_with_initializer",
        _fn(
            lambda k, L: (
                lambda x, h, c: k.Model(
                    [x, h, c],
                    L.Dense(2, activation="sigmoid")(
                        L.LSTM(5, activation="relu", return_sequences=True)(x, initial_state=[h, c])
                    ),
                )
            )(k.Input((1, 2), name="inputs"), k.Input((5,), name="state_h"), k.Input((5,), name="state_c"))
        ),
        streaming=True,
    ),
    Case("tf2onnx-GRU", f"{TF2ONNX} test_GRU (no initial state)", lambda: _seq((3, 1), _L().GRU(2))),
    Case(
        "tf2onnx-GRU_2",
        f"{TF2ONNX} test_GRU_2",
        lambda: _seq((1, 257), _L().GRU(40, reset_after=True), _L().Dense(257, activation="sigmoid")),
    ),
    Case(
        "tf2onnx-LSTM-return_state",
        f"{TF2ONNX} test_LSTM",
        _fn(lambda k, L: (lambda x: k.Model(x, L.LSTM(2, return_state=True)(x)))(k.Input((3, 5)))),
    ),
    Case(
        "tf2onnx-LSTM_reshape",
        f"{TF2ONNX} test_LSTM_reshape",
        lambda: _seq((3, 7), _L().LSTM(5, return_sequences=True), _L().Reshape((3, 5))),
    ),
    Case(
        "tf2onnx-LSTM_seqlen_none",
        f"{TF2ONNX} test_LSTM_seqlen_none",
        lambda: _seq((None, 1), _L().LSTM(2, return_sequences=True, stateful=True), batch_size=1),
        streaming=True,
    ),
    Case(
        "tf2onnx-bidirectional",
        f"{TF2ONNX} test_bidirectional",
        lambda: _seq(
            (5, 10), _L().Bidirectional(_L().LSTM(7, return_sequences=True)), _L().Dense(5), _L().Activation("softmax")
        ),
    ),
    Case(
        "tf2onnx-bidirectional-merge_none",
        f"{TF2ONNX} test_bidirectional (merge_mode=None)",
        _fn(lambda k, L: (lambda x: k.Model(x, L.Bidirectional(L.GRU(7), merge_mode=None)(x)))(k.Input((5, 10)))),
    ),
    Case(
        "tf2onnx-bidirectional_with_bias",
        f"{TF2ONNX} test_bidirectional_with_bias",
        lambda: _seq((3, 5), _L().Bidirectional(_L().GRU(4))),
    ),
    Case(
        "tf2onnx-bidirectional_seqlen_none",
        f"{TF2ONNX} test_bidirectional_seqlen_none",
        lambda: _seq(
            (50,), _L().Embedding(39, 16), _L().Bidirectional(_L().LSTM(8, return_sequences=True)), _L().Dense(44)
        ),
    ),
    Case(
        "tf2onnx-rnn_state_passing",
        f"{TF2ONNX} test_rnn_state_passing",
        _fn(
            lambda k, L: (
                lambda a, b: k.Model(
                    [a, b], L.GRU(2, return_sequences=True)(b, initial_state=L.GRU(2, return_state=True)(a)[1:])
                )
            )(k.Input((3, 5)), k.Input((3, 5)))
        ),
    ),
    Case(
        "tf2onnx-seq_dynamic_batch_size",
        f"{TF2ONNX} test_seq_dynamic_batch_size (unroll=True)",
        lambda: _seq((3, 4), _L().LSTM(16, return_sequences=True, unroll=True), _L().GRU(8, unroll=True)),
    ),
    Case(
        "tf2onnx-batch_normalization_2_3d",
        f"{TF2ONNX} test_batch_normalization_2 (3d)",
        lambda: _seq(
            (10, 20),
            _L().Conv1D(8, strides=2, kernel_size=3),
            _L().BatchNormalization(),
            _L().SimpleRNN(4),
            _L().Dense(5),
        ),
    ),
    Case(
        "tf2onnx-noise",
        f"{TF2ONNX} test_noise (GaussianNoise, GaussianDropout, AlphaDropout)",
        lambda: _seq(
            (4, 3),
            _L().GaussianNoise(0.1),
            _L().GRU(4, return_sequences=True),
            _L().GaussianDropout(0.1),
            _L().AlphaDropout(0.1),
            _L().Dense(1),
        ),
    ),
    # ---- ONNX's RNN/GRU/LSTM backend cases as Keras layers (ONNX's X (T, batch, F) is Keras's (batch, T, F))
    Case("onnx-lstm_defaults", f"{ONNX_BACKEND}/lstm.py export_defaults", lambda: _seq((1, 2), _L().LSTM(3))),
    Case(
        "onnx-lstm_batchwise",
        f"{ONNX_BACKEND}/lstm.py export_batchwise",
        lambda: _seq((1, 2), _L().LSTM(7, return_sequences=True)),
    ),
    Case(
        "onnx-gru_seq_length",
        f"{ONNX_BACKEND}/gru.py export_seq_length",
        lambda: _seq((2, 3), _L().GRU(5, reset_after=False, return_sequences=True)),
    ),
    Case(
        "onnx-lstm_with_peepholes",
        f"{ONNX_BACKEND}/lstm.py export_peepholes",
        lambda: None,
        refused="peephole",
        peer="none of the Keras converters (Keras's LSTM has no peepholes; ONNX runtimes run the op)",
    ),
)
