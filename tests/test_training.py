"""The stacked training view trains the learner's model with the same loss; the epoch log."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from keras.layers import LSTM, Dense, Input, Reshape
from keras.models import Model

from jazz_utils.errors import TrainingError
from jazz_utils.training import (
    EpochLog,
    even_batch_size,
    stacked_outputs,
    summed_crossentropy,
    time_major_to_batch_major,
)

TX, N_VALUES, N_A, M = 4, 6, 5, 10


def small_djmodel() -> Model:
    """A djmodel as the notebook builds it, small."""
    lstm = LSTM(N_A, return_state=True, unroll=True)
    dense = Dense(N_VALUES, activation="softmax")
    reshaper = Reshape((1, N_VALUES))
    X = Input(shape=(TX, N_VALUES))
    a0, c0 = Input(shape=(N_A,)), Input(shape=(N_A,))
    a, c, outputs = a0, c0, []
    for t in range(TX):
        _, a, c = lstm(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(dense(a))
    return Model(inputs=[X, a0, c0], outputs=outputs, name="djmodel")


def data(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.eye(N_VALUES, dtype="float32")[rng.integers(0, N_VALUES, (M, TX))]
    Y = np.eye(N_VALUES, dtype="float32")[rng.integers(0, N_VALUES, (TX, M))]
    zeros = np.zeros((M, N_A), dtype="float32")
    return [X, zeros, zeros], Y


def test_the_stacked_view_has_the_same_layers_and_one_output() -> None:
    keras.utils.set_random_seed(0)
    model = small_djmodel()
    trainer = stacked_outputs(model)
    assert trainer.name == "djmodel_stacked"
    assert tuple(trainer.output.shape) == (None, TX, N_VALUES)
    assert {id(w) for w in trainer.weights} == {id(w) for w in model.weights}
    inputs, _ = data()
    per_step = [np.asarray(o) for o in model(inputs)]
    np.testing.assert_allclose(np.asarray(trainer(inputs)), np.stack(per_step, axis=1))


def test_summed_loss_equals_keras_sum_of_the_per_output_losses_and_training_trains_the_model() -> (
    None
):
    keras.utils.set_random_seed(0)
    model = small_djmodel()
    inputs, Y = data()
    model.compile(loss="categorical_crossentropy")
    per_output_total = float(model.evaluate(inputs, list(Y), verbose=0, batch_size=M)[0])
    trainer = stacked_outputs(model)
    trainer.compile(optimizer=keras.optimizers.Adam(0.01), loss=summed_crossentropy,
                    metrics=["accuracy"])  # fmt: skip
    targets = time_major_to_batch_major(Y)
    loss, accuracy = trainer.evaluate(inputs, targets, verbose=0, batch_size=M)
    assert loss == pytest.approx(per_output_total, rel=1e-5)
    predicted = np.stack([np.asarray(o) for o in model(inputs)]).argmax(-1)
    assert accuracy == pytest.approx(float(np.mean(predicted == Y.argmax(-1))))

    before = [w.copy() for w in model.get_weights()]
    history = trainer.fit(inputs, targets, epochs=3, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"]
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_targets_become_batch_major() -> None:
    _, Y = data()
    out = time_major_to_batch_major(Y)
    assert out.shape == (M, TX, N_VALUES) and np.array_equal(out[:, 2], Y[2])
    with pytest.raises(TrainingError, match="Ty, m, n_values"):
        time_major_to_batch_major(Y[0])


def test_stacked_outputs_refuses_what_it_cannot_stack() -> None:
    with pytest.raises(TrainingError, match="keras.Model"):
        stacked_outputs("model")
    x = Input(shape=(3,))
    mixed = Model(x, [Dense(4)(x), Dense(5)(x)])
    with pytest.raises(TrainingError, match="all \\(m, n_values\\)"):
        stacked_outputs(mixed)


class FakeClock:
    def __init__(self, ticks: list[float]) -> None:
        self.ticks = iter(ticks)

    def __call__(self) -> float:
        return next(self.ticks)


def test_epoch_log_prints_the_first_every_tenth_and_last_epoch() -> None:
    stream = io.StringIO()
    # train begin, then (epoch begin, epoch end) for each of 12 epochs: 8 s, then 0.1 s each
    ticks = [0.0, 0.0, 8.0] + [x for e in range(1, 12) for x in (8 + 0.1 * (e - 1), 8 + 0.1 * e)]
    log = EpochLog(every=10, stream=stream, clock=FakeClock(ticks))
    log.set_params({"epochs": 12})
    log.on_train_begin()
    for epoch in range(12):
        log.on_epoch_begin(epoch)
        log.on_epoch_end(epoch, {"loss": 100.0 / (epoch + 1), "accuracy": epoch / 12})
    lines = stream.getvalue().splitlines()
    assert "first one also builds the training graph" in lines[0]
    assert [line.split()[1] for line in lines[1:]] == ["1/12", "10/12", "12/12"]
    assert "loss  100.000" in lines[1] and "mean accuracy 0.000" in lines[1]
    assert lines[1].endswith("8.0 s") and lines[3].endswith("9.1 s")
    assert log.seconds_per_epoch() == pytest.approx(0.1)
    assert len(log.epoch_seconds) == 12


def test_epoch_log_refuses_a_bad_period_and_too_short_a_fit() -> None:
    with pytest.raises(TrainingError):
        EpochLog(every=0)
    with pytest.raises(TrainingError, match="at least two epochs"):
        EpochLog().seconds_per_epoch()


@pytest.mark.parametrize(
    ("m", "expected"), [(60, 30), (64, 32), (10, 10), (600, 30), (97, 32), (1, 1), (48, 24)]
)
def test_even_batch_size_cuts_m_into_equal_batches_near_32(m: int, expected: int) -> None:
    size = even_batch_size(m)
    assert size == expected
    assert size <= 32 and (m % size == 0 or m == 97)


def test_even_batch_size_refuses_what_is_not_a_count() -> None:
    for bad in (0, -3, 2.5, True, "60"):
        with pytest.raises(TrainingError, match="positive whole number"):
            even_batch_size(bad)  # type: ignore[arg-type]
