"""Model builders for SimpleRNN, LSTM and GRU: units, stacking, Bidirectional, a Dense head."""

from __future__ import annotations

from collections.abc import Sequence

from edgernn.runtime import optional

CELLS = ("simple_rnn", "lstm", "gru")


def _keras():
    return optional.require("keras", "building models")


def cell_class(cell: str):
    """The Keras layer class for a cell name."""
    keras = _keras()
    classes = {"simple_rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    if cell not in classes:
        raise ValueError(f"unknown cell {cell!r}; expected one of {CELLS}.")
    return classes[cell]


def build_model(
    cell: str = "simple_rnn",
    units: int | Sequence[int] = 10,
    *,
    timesteps: int = 4,
    features: int = 1,
    outputs: int = 1,
    bidirectional: bool = False,
    return_sequences: bool = False,
    dropout: float = 0.0,
    seed: int | None = None,
    name: str | None = None,
    **cell_kwargs,
):
    """Build a Sequential recurrent model.

    Args:
        cell: 'simple_rnn', 'lstm' or 'gru'.
        units: units of one layer, or a list for stacked layers (first to last).
        timesteps, features: the input window shape (a static time dimension: exporters need it).
        outputs: width of the Dense head.
        bidirectional: wrap every recurrent layer in Bidirectional.
        return_sequences: the last recurrent layer returns every step and the head runs per step.
        dropout: a Dropout layer before the head when > 0 (inactive at inference).
        seed: seeds the initialisers, so the same seed gives the same starting weights.
        cell_kwargs: passed to each recurrent layer (e.g. reset_after=False for GRU).
    """
    keras = _keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    layer_units = [units] if isinstance(units, int) else list(units)
    if not layer_units or any(u <= 0 for u in layer_units):
        raise ValueError(f"units must be positive integers, got {units!r}.")
    Cell = cell_class(cell)
    layers = [keras.Input((timesteps, features), name="input")]
    for i, n in enumerate(layer_units):
        last = i == len(layer_units) - 1
        layer = Cell(n, return_sequences=return_sequences or not last, **cell_kwargs)
        layers.append(keras.layers.Bidirectional(layer) if bidirectional else layer)
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(outputs, name="head"))
    return keras.Sequential(layers, name=name or f"{cell}_{'x'.join(map(str, layer_units))}")


def trainable_params(model) -> int:
    """Number of trainable parameters, as `model.summary()` reports them."""
    return int(sum(int(w.numpy().size) for w in model.trainable_weights))
