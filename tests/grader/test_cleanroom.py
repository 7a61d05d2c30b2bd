"""The clean room's trusted path: cases drawn per batch, artefacts made, models judged.

These tests run the maker's and the model judge's code in this process (the sandboxes
around them are tested in tests/grader/test_sandbox*.py and tests/grader/test_batch.py):
what a forger can put into an artefact or an evidence file, and what it gains.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader import reference, rubric, scores
from grader.cleanroom import evidence as cleanroom
from grader.cleanroom import maker, modelrun
from grader.sandbox.scratch import read_small

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "solutions" / "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
SECRET = cleanroom.Secret(20261130)


def _source() -> nbformat.NotebookNode:
    return nbformat.read(SOURCE, as_version=4)


def _strip(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "### " not in line)


def _jobs(replace: dict[str, str] | None = None) -> list[cleanroom.FunctionJob]:
    """The solution's jobs; ``replace`` maps a function to other code for its answer cell."""
    notebook = _source()
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if replace and grade_id in replace:
            cell.source = replace[grade_id]
        elif "### BEGIN SOLUTION" in cell.source:
            cell.source = _strip(cell.source)
    return cleanroom.build_jobs(notebook, _source())


def _grade(
    jobs: list[cleanroom.FunctionJob],
    tmp_path: Path,
    secret: cleanroom.Secret = SECRET,
    memo: dict[str, Any] | None = None,
) -> scores.CleanRoomResult:
    """Make, judge and score ``jobs`` in this process, as the sandboxes would.

    With ``memo`` (a dict kept between calls under one secret), a function whose maker item
    (its program and the drawn cases) was made before, or a model run judged before, is
    not run again: both are deterministic, and the batch grader reuses them the same way.
    """
    request = cleanroom.maker_request(jobs, secret)
    owners = cleanroom.case_owners(secret)
    artefacts: dict[str, Any] = {}
    samples: Any = {"error": "no result"}
    for index, item in enumerate(request["functions"]):
        key = "make " + json.dumps(item, sort_keys=True)
        if memo is None or key not in memo:
            out = tmp_path / f"artefacts-{index}.json"
            maker.make_function(item, out)
            made = json.loads(out.read_text())["artefacts"]
            if memo is not None:
                memo[key] = made
        made = memo[key] if memo is not None else made
        artefacts.update({k: v for k, v in made.items() if owners.get(k) == item["function"]})
        samples = made.get("sampling", samples)
    model_artefacts = {k: v for k, v in artefacts.items() if k != "sampling"}
    return _judge(jobs, model_artefacts, samples, tmp_path, secret, memo)


def _judge(
    jobs: list[cleanroom.FunctionJob],
    artefacts: dict[str, Any],
    samples: Any,
    tmp_path: Path,
    secret: cleanroom.Secret = SECRET,
    memo: dict[str, Any] | None = None,
) -> scores.CleanRoomResult:
    """Judge ``artefacts`` with the model judge and score them (``memo``: see ``_grade``)."""
    request = cleanroom.judge_request(artefacts, secret)
    keys = {
        name: "judge " + json.dumps(run, sort_keys=True) for name, run in request["runs"].items()
    }
    known = memo if memo is not None else {}
    request["runs"] = {n: r for n, r in request["runs"].items() if keys[n] not in known}
    job = tmp_path / "judge.json"
    job.write_text(json.dumps(request))
    out = tmp_path / "evidence.json"
    out.unlink(missing_ok=True)
    modelrun.run(job, out)
    judged = cleanroom.verify(json.loads(out.read_text()), secret)
    assert judged is not None
    if memo is not None:
        memo.update({keys[name]: facts for name, facts in judged.items()})
        judged = {name: memo[key] for name, key in keys.items()}
    evidence = cleanroom.assemble(judged, samples, secret.cases())
    return cleanroom.judge_evidence(jobs, evidence, [], secret.cases())


# --- cases and secrets -----------------------------------------------------------------


def test_cases_are_drawn_per_seed_reproducibly_and_tell_mistakes_apart() -> None:
    first, again, other = (reference.draw_cases(s) for s in (7, 7, 8))
    assert first == again and first != other
    assert first.usable() and other.usable() and reference.FIXED.usable()
    assert first.separates_mistakes() and other.separates_mistakes()
    for cases in (first, other):
        assert cases.inf_shapes[1].Ty == 1
        for case in (cases.dj_shapes, cases.dj_sharing, *cases.dj_equivalence):
            assert case.sizes.n_a != 64 and case.sizes.n_values < 20


def test_the_secret_derives_names_and_a_key_no_sandbox_gets() -> None:
    other = cleanroom.Secret(SECRET.seed + 1)
    assert SECRET.key != other.key and SECRET.layer_names() != other.layer_names()
    request = json.dumps(cleanroom.maker_request(_jobs(), SECRET))
    assert SECRET.key.hex() not in request and str(SECRET.seed) not in request
    # The maker never sees an input a model is judged on.
    X, _, _ = SECRET.cases().dj_equivalence[0].inputs("random")
    assert json.dumps(X.tolist()) not in request
    assert '"inputs"' not in request


def test_program_key_covers_every_function_and_the_seed() -> None:
    jobs = _jobs()
    changed = [
        *jobs[:2],
        cleanroom.FunctionJob("predict_and_sample", ("x = 1",), jobs[2].grade_ids),
    ]
    keys = {
        cleanroom.program_key(jobs, SECRET),
        cleanroom.program_key(changed, SECRET),
        cleanroom.program_key(jobs, cleanroom.Secret(1)),
    }
    assert len(keys) == 3
    assert cleanroom.program_key(jobs, SECRET) == cleanroom.program_key(_jobs(), SECRET)


# --- the trusted path, end to end in this process ---------------------------------------


def test_the_solution_scores_full_marks_on_drawn_cases(tmp_path: Path) -> None:
    result = _grade(_jobs(), tmp_path)
    assert result.scores == {c.grade_id: float(c.points) for c in rubric.GRADE_CELLS}


def test_a_stub_scores_nothing_and_needs_no_model_judge(tmp_path: Path) -> None:
    stub = 'raise NotImplementedError("Exercise not done yet")'
    code = {
        "djmodel": f"def djmodel(Tx, LSTM_cell, densor, reshaper):\n    {stub}",
        "music_inference_model": "def music_inference_model(LSTM_cell, densor, Ty=100):\n"
        f"    {stub}",
        "predict_and_sample": "def predict_and_sample(inference_model, x_initializer=None,"
        f" a_initializer=None, c_initializer=None):\n    {stub}",
    }
    result = _grade(_jobs(code), tmp_path)
    assert sum(result.scores.values()) == 0.0
    assert "NotImplementedError" in result.verdicts["test_djmodel_shapes"].report()


HONEST_RESHAPE_PER_STEP = """\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c, outputs, t = a0, c0, [], 0
    while t < Tx:
        x = Reshape((1, n_values))(X[:, t, :])  # a new weightless layer at every step
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
        t += 1
    return Model(inputs=[X, a0, c0], outputs=outputs)
"""


def test_a_weightless_helper_layer_per_step_keeps_full_marks(tmp_path: Path) -> None:
    result = _grade(_jobs({"djmodel": HONEST_RESHAPE_PER_STEP}), tmp_path)
    assert sum(result.scores.values()) == rubric.TOTAL_POINTS


ARGMAX_OVER_TIME = """\
def predict_and_sample(inference_model, x_initializer=x_initializer,
                       a_initializer=a_initializer, c_initializer=c_initializer):
    n_values = x_initializer.shape[2]
    pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)
    indices = np.argmax(np.array(pred), axis=0).reshape(-1, 1)
    results = keras.utils.to_categorical(indices[:, 0], num_classes=n_values)
    return results, indices
"""


def test_a_wrong_argmax_axis_costs_what_it_breaks(tmp_path: Path) -> None:
    result = _grade(_jobs({"predict_and_sample": ARGMAX_OVER_TIME}), tmp_path)
    assert result.scores["test_sample_shapes"] == 0.0
    assert result.scores["test_sample_initializers"] == 3.0  # it does use the initializers


LAYERS_IN_LOOP = HONEST_RESHAPE_PER_STEP.replace(
    "_, a, c = LSTM_cell(x, initial_state=[a, c])\n        outputs.append(densor(a))",
    "_, a, c = LSTM(n_a, return_state=True)(x, initial_state=[a, c])\n"
    "        outputs.append(Dense(n_values, activation='softmax')(a))",
)


def test_new_layers_at_every_step_lose_sharing_and_equivalence(tmp_path: Path) -> None:
    result = _grade(_jobs({"djmodel": LAYERS_IN_LOOP}), tmp_path)
    assert result.scores["test_djmodel_shapes"] == 2.0
    assert result.scores["test_djmodel_sharing"] == 0.0
    assert result.scores["test_djmodel_equivalence"] == 0.0


# --- forgeries ---------------------------------------------------------------------------


def test_unsigned_or_altered_evidence_is_not_believed() -> None:
    text = json.dumps({"dj_shapes": {"is_model": True}})
    good = {"evidence": text, "signature": modelrun.sign(SECRET.key, text.encode())}
    assert cleanroom.verify(good, SECRET) == {"dj_shapes": {"is_model": True}}
    assert cleanroom.verify({**good, "evidence": text.replace("true", "false")}, SECRET) is None
    assert cleanroom.verify({**good, "signature": "0" * 64}, SECRET) is None
    assert cleanroom.verify({"evidence": text}, SECRET) is None
    assert cleanroom.verify([good], SECRET) is None
    other = cleanroom.Secret(SECRET.seed + 1)
    assert cleanroom.verify(good, other) is None


LAMBDA_INFERENCE = """\
def music_inference_model(LSTM_cell, densor, Ty=100):
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,))
    c0 = Input(shape=(n_a,))
    a, c, x, outputs = a0, c0, x0, []
    for t in range(Ty):
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
        step = lambda p: ops.expand_dims(ops.one_hot(ops.argmax(p, -1), n_values), 1)
        x = keras.layers.Lambda(step)(out)
    return Model(inputs=[x0, a0, c0], outputs=outputs)
"""


def test_python_code_in_a_model_is_never_run_by_the_judge(tmp_path: Path) -> None:
    result = _grade(_jobs({"music_inference_model": LAMBDA_INFERENCE}), tmp_path)
    assert result.scores["test_inference_greedy"] == 0.0
    assert "Lambda" in result.verdicts["test_inference_greedy"].report()


def test_a_forged_artefact_scores_only_by_behaving_right(tmp_path: Path) -> None:
    """Artefacts claiming success without a model, or a model that ignores its input."""
    jobs = _jobs()
    claims = {"is_model": True, "lstm_used": True, "dense_used": True, "count_params": 1}
    forged = {name: claims for name in cleanroom.case_owners(SECRET) if name != "sampling"}
    result = _judge(jobs, forged, {"error": "none"}, tmp_path)
    assert sum(result.scores.values()) == 0.0
    # A real, serialised model of the right shapes whose outputs ignore the inputs.
    import keras

    case = SECRET.cases().dj_equivalence[0]
    n_values, n_a = case.sizes.n_values, case.sizes.n_a
    X = keras.Input(shape=(case.Tx, n_values))
    a0, c0 = keras.Input(shape=(n_a,)), keras.Input(shape=(n_a,))
    head = keras.layers.Dense(n_values, activation="softmax")
    model = keras.Model([X, a0, c0], [head(a0) for _ in range(case.Tx)])
    fake = maker.serialise(model)
    calls = cleanroom.maker_request(jobs, SECRET)["functions"][0]["calls"]
    assert len(calls) == 2  # shapes, sharing and the first equivalence case share a model
    result = _judge(jobs, dict.fromkeys(calls, fake), {}, tmp_path)
    assert result.scores["test_djmodel_equivalence"] == 0.0
    assert result.scores["test_djmodel_shapes"] == 2.0  # right shapes, wrong behaviour


def test_artefact_files_are_read_without_following_links(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("do not read")
    link = tmp_path / "artefacts-0.json"
    os.symlink(secret_file, link)
    assert read_small(link, 1000) is None
    os.mkfifo(tmp_path / "fifo")
    assert read_small(tmp_path / "fifo", 1000) is None
    (tmp_path / "big").write_bytes(b"x" * 2000)
    assert read_small(tmp_path / "big", 1000) is None
    (tmp_path / "folder").mkdir()
    assert read_small(tmp_path / "folder", 1000) is None
    (tmp_path / "ok").write_bytes(b"{}")
    assert read_small(tmp_path / "ok", 1000) == b"{}"


def test_the_maker_never_overwrites_a_planted_file(tmp_path: Path) -> None:
    """An artefact path learner code made first (say a directory) is not written through."""
    job = cleanroom.maker_request(_jobs(), SECRET)["functions"][2]
    (tmp_path / "out").mkdir()
    with pytest.raises(OSError):
        maker.make_function(job, tmp_path / "out")


def test_the_public_check_warns_of_a_lambda_layer_before_grading_does() -> None:
    import keras
    from keras import ops
    from keras.layers import Input
    from keras.models import Model

    from jazz_utils import checks

    namespace = {"keras": keras, "ops": ops, "Input": Input, "Model": Model}
    exec(LAMBDA_INFERENCE, namespace)
    with pytest.raises(checks.CheckFailure, match="Lambda layer"):
        checks.music_inference_model_test(namespace["music_inference_model"])


def test_feedback_quotes_the_public_checks_diagnosis(tmp_path: Path) -> None:
    jobs = _jobs({"djmodel": LAYERS_IN_LOOP})
    item = {"function": "djmodel", "blocks": list(jobs[0].blocks), "diagnose": True}
    maker.make_function(item, tmp_path / "diagnosis.json")
    diagnosis = json.loads((tmp_path / "diagnosis.json").read_text())["artefacts"]["diagnosis"]
    assert "layers created inside the loop" in diagnosis
    (tmp_path / "grade").mkdir()
    result = _grade(jobs, tmp_path / "grade")
    result.diagnoses = {"djmodel": diagnosis}
    assert "layers created inside the loop" in result.report("test_djmodel_sharing")
    assert "check of" not in result.report("test_inference_sharing")  # full marks: no words


def test_every_mutant_scores_its_golden_score_whatever_the_batch_draws(tmp_path: Path) -> None:
    """Cases are drawn per batch: no mistake may pass or fail by the luck of the draw.

    The mutant catalogue is graded end to end in tests/grader/test_mutants.py under one
    draw; here every mutant is made and judged in this process under another (a function
    the mutants share with the solution is made and judged once: see ``_grade``).
    """
    from catalogue import GOLDEN, build_mutant, mutants

    golden = json.loads(GOLDEN.read_text())["mutants"]
    release = nbformat.read(ROOT / "notebooks" / SOURCE.name, as_version=4)
    for seed in (1,):
        secret = cleanroom.Secret(seed)
        memo: dict[str, Any] = {}
        for mutant in mutants():
            submission = build_mutant(mutant, _source(), release)
            jobs = cleanroom.build_jobs(submission, _source())
            folder = tmp_path / f"{seed}-{mutant.name}"
            folder.mkdir()
            result = _grade(jobs, folder, secret, memo)
            assert result.scores == golden[mutant.name]["cells"], (seed, mutant.name)
