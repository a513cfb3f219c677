import numpy as np
import pytest

from edgernn.train import Recipe, build_model, seed_dataset, train_recipe, trainable_params


def test_seed_dataset_is_the_tutorials_six_windows():
    x, y = seed_dataset()
    assert x.shape == (6, 4, 1) and y.shape == (6, 1)
    for i in range(6):
        np.testing.assert_allclose(x[i, :, 0], [i / 10, (i + 1) / 10, (i + 2) / 10, (i + 3) / 10], rtol=1e-6)
        assert y[i, 0] == pytest.approx((i + 4) / 10)


@pytest.mark.parametrize("cell,params", [("simple_rnn", 131), ("lstm", 491), ("gru", 401)])
def test_seed_recipe_parameter_counts(cell, params):
    # SimpleRNN(10): 1*10 + 10*10 + 10 = 120, + Dense 11 = 131 (the tutorial's summary).
    assert trainable_params(build_model(cell, 10)) == params


def test_builder_shapes_stacked_bidirectional_multi_output():
    model = build_model("gru", (4, 3), timesteps=7, features=2, outputs=3, bidirectional=True)
    assert tuple(model.inputs[0].shape) == (None, 7, 2)
    assert tuple(model.outputs[0].shape) == (None, 3)
    seq = build_model("lstm", 4, return_sequences=True)
    assert tuple(seq.outputs[0].shape) == (None, 4, 1)


def test_unknown_cell_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="simple_rnn"):
        build_model("transformer", 4)


def test_same_seed_gives_same_weights_and_another_seed_does_not():
    x, y = seed_dataset()
    a, _ = train_recipe(Recipe(cell="simple_rnn", epochs=3, seed=5), x, y)
    b, _ = train_recipe(Recipe(cell="simple_rnn", epochs=3, seed=5), x, y)
    c, _ = train_recipe(Recipe(cell="simple_rnn", epochs=3, seed=6), x, y)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), c.get_weights()))
