"""How a grade cell's points are found: references, probes, judges and the hidden-test helpers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from catalogue import nbgrader_meta, source_notebook, strip_markers

from grader import hidden, judges, probes, reference, rubric
from grader.errors import GradingError

# --- references ----------------------------------------------------------------------


def test_numpy_reference_equals_keras_fused_lstm() -> None:
    keras = pytest.importorskip("keras")
    for case in (*reference.DJ_EQUIVALENCE, reference.DJ_SHAPES):
        X, a0, c0 = case.inputs("random")
        lstm = keras.layers.LSTM(case.sizes.n_a, return_sequences=True)
        dense = keras.layers.Dense(case.sizes.n_values, activation="softmax")
        lstm.build(X.shape)
        dense.build((None, case.sizes.n_a))
        lstm.set_weights(case.weights().lstm_list())
        dense.set_weights(case.weights().dense_list())
        fused = keras.ops.convert_to_numpy(dense(lstm(X, initial_state=[a0, c0])))
        np.testing.assert_allclose(np.swapaxes(fused, 0, 1), case.reference("random"), atol=1e-5)


def test_cases_are_unambiguous_and_tell_mistakes_apart() -> None:
    for case in (*reference.DJ_EQUIVALENCE, reference.DJ_SHAPES, reference.DJ_SHARING):
        assert case.sizes.n_a != 64 and case.sizes.n_values < 20
        for kind in ("random", "constant"):
            assert reference.smallest_margin(case.reference(kind)) > 1e-3
    for case in (*reference.INF_GREEDY, *reference.INF_SHAPES):
        assert reference.smallest_margin(case.reference()) > 1e-3
    greedy = reference.INF_GREEDY[0].reference().argmax(axis=-1)
    assert len(set(greedy[:, 0])) > 1  # the greedy sequence moves: feeding x0 differs
    sampling = reference.SAMPLING
    sequences = {v: tuple(sampling.reference_indices(v)) for v in ("zeros", "base", "x", "a", "c")}
    assert len(set(sequences.values())) == 5  # each initializer changes the sample


# --- hidden-test helpers -------------------------------------------------------------


def test_hidden_tests_give_the_solution_full_points(
    solution: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    scores = {
        cell.grade_id: hidden.grade(cell.grade_id, solution[cell.function])
        for cell in rubric.GRADE_CELLS
    }
    assert scores == {cell.grade_id: float(cell.points) for cell in rubric.GRADE_CELLS}
    assert all(type(points) is float for points in scores.values())
    out, err = capfd.readouterr()
    assert err == ""  # a grade cell never writes to stderr
    assert "FAIL" not in out


def _variant(solution: dict[str, Any], name: str, old: str, new: str) -> Any:
    """The solution's function ``name`` with ``old`` replaced by ``new``."""
    nb = source_notebook()
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == name)
    text = strip_markers(cell.source)
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    for argument in ("x_initializer", "a_initializer", "c_initializer"):
        text = text.replace(f"{argument}={argument}", argument)
    namespace = dict(solution)
    exec(text, namespace)
    return namespace[name]


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "djmodel",
            "initial_state=[a, c]",
            "initial_state=[a0, c0]",
            {"test_djmodel_shapes": 2, "test_djmodel_sharing": 3, "test_djmodel_equivalence": 1},
        ),
        (
            "djmodel",
            "x = X[:, t, :]",
            "x = X[:, 0, :]",
            {"test_djmodel_equivalence": 3},
        ),
        (
            "music_inference_model",
            "        x = RepeatVector(1)(x)\n",
            "        x = x0\n",
            {"test_inference_shapes": 2, "test_inference_sharing": 3, "test_inference_greedy": 1},
        ),
        (
            "predict_and_sample",
            "results = keras.utils.to_categorical(indices[:, 0], num_classes=n_values)",
            "results = np.array(pred)[:, 0, :]",
            {"test_sample_shapes": 1, "test_sample_initializers": 3},
        ),
    ],
)
def test_partial_credit_names_the_mistake(
    solution: dict[str, Any], name: str, old: str, new: str, expected: dict[str, float]
) -> None:
    function = _variant(solution, name, old, new)
    for grade_id, points in expected.items():
        assert hidden.grade(grade_id, function) == points, grade_id


def test_a_missing_function_scores_zero_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert hidden.grade("test_djmodel_shapes", None) == 0.0
    assert "djmodel is not defined" in capsys.readouterr().out


def test_an_unknown_grade_cell_is_an_error() -> None:
    with pytest.raises(GradingError, match="no hidden test"):
        hidden.grade("test_nothing", None)


@pytest.mark.parametrize(
    "evidence",
    [{}, {"error": "boom"}, {"cases": "junk"}, {"cases": [None, 3]}, {"is_model": True}, [1, 2]],
)
def test_judges_score_malformed_evidence_zero(evidence: Any) -> None:
    for cell in rubric.GRADE_CELLS:
        verdict = judges.judge(cell.grade_id, evidence)
        assert verdict.points == 0.0 and verdict.max_points == cell.points


def test_probes_silence_learner_output(capfd: pytest.CaptureFixture[str]) -> None:
    import sys

    def noisy(*args: Any, **kwargs: Any) -> None:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        raise SystemExit(3)

    evidence = probes.collect("test_djmodel_shapes", noisy, "djmodel")
    assert evidence == {"error": "SystemExit: 3"}
    assert capfd.readouterr() == ("", "")
