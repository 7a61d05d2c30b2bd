"""Judges: turn a probe's evidence into points, check by check (NumPy only).

Each grade cell has a rubric of checks worth fixed points; a check passes or not, so a
partial score names the mistake (e.g. "the first output equals the reference" passes
but "the state is carried from step to step" fails when the state is reset at every
step). The judge recomputes every reference itself from ``grader.reference``'s cases
(with the NumPy LSTM of ``jazz_utils.lstm_reference``): evidence is only ever compared,
never trusted, and malformed evidence fails the check it feeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import reference
from grader.errors import GradingError
from grader.probes import Evidence
from grader.rubric import GRADE_CELLS_BY_ID
from jazz_utils.lstm_reference import Sizes

ATOL = 1e-4
"""Absolute tolerance on probabilities (float32 Keras against float64 references)."""
RTOL = 1e-3
"""Relative tolerance on probabilities."""


@dataclass(frozen=True)
class Check:
    """One line of a rubric: what is required, its points, and whether it held."""

    text: str
    points: float
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Verdict:
    """The judged checks of one grade cell."""

    grade_id: str
    checks: tuple[Check, ...]

    @property
    def points(self) -> float:
        """Points earned: the sum over the checks that passed."""
        return float(sum(check.points for check in self.checks if check.passed))

    @property
    def max_points(self) -> float:
        """Points available."""
        return float(sum(check.points for check in self.checks))

    def report(self) -> str:
        """A readable account of the checks, for the learner's feedback."""
        cell = GRADE_CELLS_BY_ID[self.grade_id]
        lines = [f"{cell.function}: {cell.title}: {self.points:g} / {self.max_points:g} points"]
        for check in self.checks:
            mark = "ok  " if check.passed else "FAIL"
            lines.append(f"  [{mark}] {check.text} ({check.points:g} pt)")
            if not check.passed and check.detail:
                lines.append(f"         {check.detail}")
        return "\n".join(lines)


class _MismatchError(Exception):
    """A check's predicate found a mismatch; the message says which."""


def _check(text: str, points: float, predicate: Callable[[], None]) -> Check:
    """Run ``predicate``: it returns when the check holds, raises ``_MismatchError`` if not."""
    try:
        predicate()
    except _MismatchError as failure:
        return Check(text, points, False, str(failure))
    except Exception as error:  # malformed evidence
        return Check(text, points, False, f"unreadable result ({type(error).__name__})")
    return Check(text, points, True)


def _fmt(shape: Sequence[Any] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("m" if d is None else str(d) for d in shape) + ")"


def _require_no_error(evidence: Evidence) -> None:
    if not isinstance(evidence, dict):
        raise _MismatchError("no result")
    if evidence.get("error"):
        raise _MismatchError(str(evidence["error"]))


def _require_model(evidence: Evidence) -> None:
    _require_no_error(evidence)
    if evidence.get("is_model") is not True:
        raise _MismatchError(f"returned a {evidence.get('type', 'value')}, not a keras.Model")
    if evidence.get("facts_error"):
        raise _MismatchError(str(evidence["facts_error"]))


def _require_inputs(evidence: Evidence, expected: list[list[int | None]], names: str) -> None:
    _require_model(evidence)
    got = evidence.get("inputs")
    if got != expected:
        shown = ", ".join(_fmt(s) for s in got or [])
        raise _MismatchError(f"expected inputs {names}; got [{shown}]")


def _require_outputs(evidence: Evidence, steps: int, n_values: int, m: int) -> None:
    got = evidence.get("outputs")
    if got != [[None, n_values]] * steps:
        count = len(got) if isinstance(got, list) else 0
        first = _fmt(got[0]) if count else "none"
        raise _MismatchError(
            f"expected {steps} outputs of shape (m, {n_values}); got {count}, first {first}"
        )
    call = evidence.get("call") or {}
    _require_no_error(call)
    if call.get("shapes") != [[m, n_values]] * steps:
        raise _MismatchError(
            f"called on a batch of {m}, the outputs are not {steps} arrays ({m}, {n_values})"
        )


def _outputs(run: Evidence, steps: int) -> list[np.ndarray]:
    _require_no_error(run)
    outputs = run.get("outputs")
    if not isinstance(outputs, list) or len(outputs) != steps:
        count = len(outputs) if isinstance(outputs, list) else 0
        raise _MismatchError(f"the model has {count} outputs, expected {steps}")
    return [np.asarray(o, dtype=np.float64) for o in outputs]


def _require_close(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    if got.shape != expected.shape:
        raise _MismatchError(f"{what} has shape {got.shape}, expected {expected.shape}")
    if not np.all(np.isfinite(got)):
        raise _MismatchError(f"{what} is not finite")
    if not np.allclose(got, expected, atol=ATOL, rtol=RTOL):
        raise _MismatchError(
            f"{what} differs from the reference by up to {np.abs(got - expected).max():.3g}"
        )


def _require_first_close(run: Evidence, expected: np.ndarray, label: str) -> None:
    _require_no_error(run)
    outputs = run.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise _MismatchError(f"{label}: no outputs")
    _require_close(np.asarray(outputs[0], dtype=np.float64), expected[0], f"{label}: output 0")


def _require_all_close(run: Evidence, expected: np.ndarray, label: str) -> None:
    outputs = _outputs(run, expected.shape[0])
    for t, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        _require_close(got, want, f"{label}: output {t}")


def _case_label(case: Any) -> str:
    steps = f"Tx={case.Tx}" if hasattr(case, "Tx") else f"Ty={case.Ty}"
    return f"{steps}, n_values={case.sizes.n_values}, n_a={case.sizes.n_a}"


def _cases(evidence: Evidence, count: int) -> list[Evidence]:
    _require_no_error(evidence)
    cases = evidence.get("cases")
    if not isinstance(cases, list) or len(cases) != count:
        raise _MismatchError("no result")
    return cases


# --- djmodel -------------------------------------------------------------------------


def _judge_djmodel_shapes(evidence: Evidence, cases: reference.Cases) -> list[Check]:
    case = cases.dj_shapes
    nv, na = case.sizes.n_values, case.sizes.n_a
    expected = [[None, case.Tx, nv], [None, na], [None, na]]
    return [
        _check(
            f"a keras.Model with inputs X (m, {case.Tx}, {nv}), a0 (m, {na}), c0 (m, {na})",
            1,
            lambda: _require_inputs(evidence, expected, "[X, a0, c0]"),
        ),
        _check(
            f"Tx = {case.Tx} outputs, each (m, {nv})",
            1,
            lambda: (_require_model(evidence), _require_outputs(evidence, case.Tx, nv, case.m)),
        ),
    ]


def _require_flag(evidence: Evidence, key: str, message: str) -> None:
    _require_model(evidence)
    if evidence.get(key) is not True:
        raise _MismatchError(message)


def _require_count(evidence: Evidence, sizes: Sizes) -> None:
    _require_model(evidence)
    count = evidence.get("count_params")
    if count != sizes.parameter_count:
        raise _MismatchError(
            f"the model has {count} parameters, one LSTM and one Dense have {sizes.parameter_count}"
        )


def _judge_sharing(evidence: Evidence, sizes: Sizes) -> list[Check]:
    """Sharing, judged by behaviour: the given layers' weights are the model's weights.

    Layers without weights (a ``Reshape`` made at every step, ``RepeatVector``) change no
    output and are not counted; a layer with weights of its own shows in the parameter
    count.
    """
    return [
        _check(
            "uses the given LSTM_cell (the same layer object at every step)",
            1,
            lambda: _require_flag(
                evidence, "lstm_used", "the given LSTM_cell's weights are not used"
            ),
        ),
        _check(
            "uses the given densor",
            1,
            lambda: _require_flag(
                evidence, "dense_used", "the given densor's weights are not used"
            ),
        ),
        _check(
            "has exactly the parameters of one LSTM and one Dense (no layer of its own)",
            1,
            lambda: _require_count(evidence, sizes),
        ),
    ]


def _judge_djmodel_sharing(evidence: Evidence, cases: reference.Cases) -> list[Check]:
    return _judge_sharing(evidence, cases.dj_sharing.sizes)


def _judge_djmodel_equivalence(evidence: Evidence, all_cases: reference.Cases) -> list[Check]:
    cases = all_cases.dj_equivalence

    def first_step() -> None:
        for case, run in zip(cases, _cases(evidence, len(cases)), strict=True):
            _require_no_error(run)
            _require_first_close(run.get("random"), case.reference("random"), _case_label(case))

    def every_step(kind: str) -> Callable[[], None]:
        def predicate() -> None:
            for case, run in zip(cases, _cases(evidence, len(cases)), strict=True):
                _require_no_error(run)
                _require_all_close(run.get(kind), case.reference(kind), _case_label(case))

        return predicate

    return [
        _check(
            "the first output equals the reference: one LSTM_cell step from (a0, c0) on "
            "X[:, 0, :], then densor on a",
            1,
            first_step,
        ),
        _check(
            "when every step reads the same value, all Tx outputs equal the reference: "
            "the state (a, c) is carried from step to step",
            2,
            every_step("constant"),
        ),
        _check(
            "on random sequences, all Tx outputs equal a fused reference LSTM with the same "
            "weights: step t reads X[:, t, :]",
            2,
            every_step("random"),
        ),
    ]


# --- music_inference_model -----------------------------------------------------------


def _judge_inference_shapes(evidence: Evidence, cases: reference.Cases) -> list[Check]:
    checks = []
    for index, case in enumerate(cases.inf_shapes):
        nv, na = case.sizes.n_values, case.sizes.n_a
        expected = [[None, 1, nv], [None, na], [None, na]]

        def predicate(index: int = index, case: Any = case, expected: Any = expected) -> None:
            run = _cases(evidence, len(cases.inf_shapes))[index]
            _require_inputs(run, expected, "[x0, a0, c0]")
            _require_outputs(run, case.Ty, case.sizes.n_values, case.m)

        checks.append(
            _check(
                f"Ty = {case.Ty}: a keras.Model with inputs x0 (m, 1, {nv}), a0 (m, {na}), "
                f"c0 (m, {na}) and {case.Ty} output(s) (m, {nv})",
                1,
                predicate,
            )
        )
    return checks


def _judge_inference_sharing(evidence: Evidence, cases: reference.Cases) -> list[Check]:
    return _judge_sharing(evidence, cases.inf_sharing.sizes)


def _judge_inference_greedy(evidence: Evidence, all_cases: reference.Cases) -> list[Check]:
    cases = all_cases.inf_greedy

    def first_step() -> None:
        for case, run in zip(cases, _cases(evidence, len(cases)), strict=True):
            _require_first_close(run, case.reference(), _case_label(case))

    def every_step(index: int) -> Callable[[], None]:
        def predicate() -> None:
            case = cases[index]
            _require_all_close(
                _cases(evidence, len(cases))[index], case.reference(), _case_label(case)
            )

        return predicate

    checks = [
        _check(
            "the first output equals the reference: one LSTM_cell step from (x0, a0, c0), "
            "then densor",
            1,
            first_step,
        )
    ]
    for index, case in enumerate(cases):
        checks.append(
            _check(
                f"{_case_label(case)}: all outputs equal a reference greedy loop that feeds "
                "the one-hot argmax of each step back as the next input",
                2,
                every_step(index),
            )
        )
    return checks


# --- predict_and_sample --------------------------------------------------------------


def _indices(run: Evidence, case: reference.SamplingCase) -> np.ndarray:
    _require_no_error(run)
    indices = np.asarray(run.get("indices"), dtype=np.float64)
    if indices.size != case.Ty:
        raise _MismatchError(
            f"indices has shape {tuple(run.get('indices_shape') or ())}, expected ({case.Ty}, 1)"
        )
    return indices.reshape(case.Ty)


def _require_sample_shapes(run: Evidence, case: reference.SamplingCase) -> None:
    _require_no_error(run)
    shapes = (run.get("results_shape"), run.get("indices_shape"))
    if shapes != ([case.Ty, case.sizes.n_values], [case.Ty, 1]):
        raise _MismatchError(
            f"results {_fmt(shapes[0])} and indices {_fmt(shapes[1])}, expected "
            f"({case.Ty}, {case.sizes.n_values}) and ({case.Ty}, 1)"
        )
    if run.get("indices_integral") is not True:
        raise _MismatchError("indices are not integers")


def _require_one_hot_argmax(run: Evidence, case: reference.SamplingCase) -> None:
    _require_sample_shapes(run, case)
    results = np.asarray(run.get("results"), dtype=np.float64)
    indices = _indices(run, case)
    if not np.all((results == 0.0) | (results == 1.0)) or not np.all(results.sum(axis=1) == 1.0):
        raise _MismatchError("results is not one-hot (each row one 1, zeros elsewhere)")
    if not np.array_equal(results.argmax(axis=1), indices):
        raise _MismatchError("results[t] is not the one-hot vector of indices[t]")
    expected = case.reference_indices("zeros")
    if not np.array_equal(indices, expected):
        raise _MismatchError(
            f"indices {indices.astype(int).tolist()}, the model's argmax gives {expected.tolist()}"
        )


def _judge_sample_shapes(evidence: Evidence, cases: reference.Cases) -> list[Check]:
    case = cases.sampling
    return [
        _check(
            f"results ({case.Ty}, {case.sizes.n_values}) and indices ({case.Ty}, 1) of integers",
            1,
            lambda: _require_sample_shapes(evidence, case),
        ),
        _check(
            "results is one-hot, results[t] marks indices[t], and indices are the argmax of "
            "the model's outputs",
            1,
            lambda: _require_one_hot_argmax(evidence, case),
        ),
    ]


_INITIALIZER_NAMES = {"x": "x_initializer", "a": "a_initializer", "c": "c_initializer"}


def _returned(run: Any, label: str) -> tuple[Any, Any]:
    """What ``predict_and_sample`` returned from initializers ``label``, comparable with ==."""
    if not isinstance(run, dict):
        raise _MismatchError(f"from {label}: no result")
    if run.get("error"):
        raise _MismatchError(f"from {label}: {run['error']}")
    return run.get("results"), run.get("indices")


def _judge_sample_initializers(evidence: Evidence, cases: reference.Cases) -> list[Check]:
    """Each initializer is used: changing it alone changes what the function returns.

    Judged on the function's own outputs, whatever their shape: a function with another
    mistake (say an argmax over the wrong axis) loses the points of that mistake in
    ``test_sample_shapes``, not these.
    """

    def uses(variant: str) -> Callable[[], None]:
        def predicate() -> None:
            _require_no_error(evidence)
            base = _returned(evidence.get("base"), "random initializers")
            if "base_again" in evidence and _returned(evidence["base_again"], "the same") != base:
                raise _MismatchError(
                    "two calls with the same initializers returned different results"
                )
            name = _INITIALIZER_NAMES[variant]
            if _returned(evidence.get(variant), f"another {name}") == base:
                raise _MismatchError(f"the results do not change when {name} changes")

        return predicate

    return [
        _check(f"uses the given {_INITIALIZER_NAMES[v]}", 1, uses(v))
        for v in reference.INITIALIZER_VARIANTS
    ]


_JUDGES: dict[str, Callable[[Evidence, reference.Cases], list[Check]]] = {
    "test_djmodel_shapes": _judge_djmodel_shapes,
    "test_djmodel_sharing": _judge_djmodel_sharing,
    "test_djmodel_equivalence": _judge_djmodel_equivalence,
    "test_inference_shapes": _judge_inference_shapes,
    "test_inference_sharing": _judge_inference_sharing,
    "test_inference_greedy": _judge_inference_greedy,
    "test_sample_shapes": _judge_sample_shapes,
    "test_sample_initializers": _judge_sample_initializers,
}


def judge(grade_id: str, evidence: Evidence, cases: reference.Cases = reference.FIXED) -> Verdict:
    """Score the evidence of grade cell ``grade_id``, gathered on ``cases``.

    Raises:
        GradingError: ``grade_id`` is not a grade cell of this assignment, or its rubric
            does not add up to the cell's points (a bug in the grader).
    """
    rubric = _JUDGES.get(grade_id)
    if rubric is None:
        raise GradingError(f"no hidden test is called {grade_id!r}")
    if not isinstance(evidence, dict):
        evidence = {"error": "no result"}
    verdict = Verdict(grade_id, tuple(rubric(evidence, cases)))
    if verdict.max_points != GRADE_CELLS_BY_ID[grade_id].points:
        raise GradingError(f"the rubric of {grade_id} is worth {verdict.max_points} points")
    return verdict
