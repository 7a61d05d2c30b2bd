"""The clean-room regrade: each graded function judged by what it makes, away from the notebook.

A score is decided here, from evidence no learner code can write:

1. **Extract** (``build_jobs``): each graded function is taken from the submission's source
   with only what it needs (imports, helpers, globals; ``grader.extract``); nothing
   else of the notebook runs with it.
2. **Make** (``maker_request``; ``grader.cleanroom.maker`` in a sandbox): the function is called
   with layers of this batch's sizes and weights; ``djmodel`` and
   ``music_inference_model`` return models, which are kept as *artefacts* (Keras config
   and weights); ``predict_and_sample`` returns its outputs on the grader's test model.
3. **Run** (``judge_request``; ``grader.cleanroom.modelrun`` in another sandbox, under another user,
   running no learner code): each model is rebuilt in Keras's safe mode and run on
   inputs drawn for this batch (``grader.reference.draw_cases``) that the maker never
   saw. Its output is signed with a key only the grader and that sandbox hold.
4. **Judge** (``assemble`` and ``judge_evidence``, here in the grading process, NumPy
   only): the outputs are compared with the references (``grader.judges``).

A forged artefact therefore scores only if it is a model that computes the right answer
on inputs nobody showed it; a forged evidence file is not signed; and nothing the maker
says about itself (which layers it used, what it printed) is believed. What the maker
reports for ``predict_and_sample`` is its own output, on initializers and a model it is
given: a function can only match the reference there by computing it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from nbformat.notebooknode import NotebookNode

from grader import judges, reference, rubric
from grader.extract import Program, extract, first_grade_cell, sanitized_cells
from grader.scores import CleanRoomResult

CLEANROOM_TIMEOUT = 600.0
"""Seconds the clean-room regrade of one submission may take in all."""

SAMPLE_VARIANTS: tuple[str, ...] = ("zeros", "base", "base_again", *reference.INITIALIZER_VARIANTS)
"""The initializers ``predict_and_sample`` is called with (``base_again``: ``base`` once more)."""


@dataclass(frozen=True)
class FunctionJob:
    """One graded function's extracted program and the grade cells that test it."""

    function: str
    blocks: tuple[str, ...]
    grade_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The job as JSON data."""
        return {
            "function": self.function,
            "blocks": list(self.blocks),
            "grade_ids": list(self.grade_ids),
        }


@dataclass(frozen=True)
class Secret:
    """This batch's secret: the seed of its cases and what is derived from it.

    The client draws it (``secrets``) and sends it to the workers with the release
    files; no sandbox ever receives it. From it come the hidden-test cases, the names of
    the layers handed to learner code, and the key that signs the model judge's output.
    """

    seed: int

    def _derive(self, purpose: str) -> bytes:
        return hashlib.sha256(f"{purpose}:{self.seed}".encode()).digest()

    @property
    def key(self) -> bytes:
        """The key of the model judge's signature."""
        return self._derive("signature")

    def layer_names(self) -> dict[str, str]:
        """Names of the layers handed to the learner's functions (how the judge finds them)."""
        tag = self._derive("names").hex()[:10]
        return {"lstm": f"lstm_cell_{tag}", "dense": f"densor_{tag}", "reshaper": f"reshaper_{tag}"}

    def cases(self) -> reference.Cases:
        """This batch's hidden-test cases."""
        return _drawn(self.seed)


_CASES: dict[int, reference.Cases] = {}


def _drawn(seed: int) -> reference.Cases:
    if seed not in _CASES:
        _CASES.clear()
        _CASES[seed] = reference.draw_cases(seed)
    return _CASES[seed]


def build_jobs(submission: NotebookNode, source: NotebookNode) -> list[FunctionJob]:
    """Extract every graded function of ``submission`` (locked cells from ``source``)."""
    cells = sanitized_cells(submission, source, rubric.LOCKED_CELLS_RUN_WHEN_GRADING)
    jobs = []
    for function in rubric.GRADED_FUNCTIONS:
        grade_ids = tuple(cell.grade_id for cell in rubric.cells_of(function))
        stop = first_grade_cell(cells, grade_ids, function)
        program: Program = extract(cells, function, stop)
        jobs.append(FunctionJob(function, program.blocks, grade_ids))
    return jobs


def program_key(jobs: list[FunctionJob], secret: Secret) -> str:
    """The digest under which a submission's judged evidence may be reused in this batch.

    It covers every extracted program of the submission (all functions run in one maker
    sandbox, so one program could disturb another's artefacts) and the batch's seed;
    the grader computes it, never a sandbox.
    """
    text = json.dumps([job.to_json() for job in jobs], sort_keys=True)
    return hashlib.sha256(f"{secret.seed}\n{text}".encode()).hexdigest()


# --- what each function is called with ------------------------------------------------


def _model_cases(cases: reference.Cases) -> dict[str, tuple[str, Any]]:
    """Case name -> (graded function, case) for the functions that return models."""
    table: dict[str, tuple[str, Any]] = {
        "dj_shapes": ("djmodel", cases.dj_shapes),
        "dj_sharing": ("djmodel", cases.dj_sharing),
    }
    for index, case in enumerate(cases.dj_equivalence):
        table[f"dj_equivalence_{index}"] = ("djmodel", case)
    for index, case in enumerate(cases.inf_shapes):
        table[f"inf_shapes_{index}"] = ("music_inference_model", case)
    table["inf_sharing"] = ("music_inference_model", cases.inf_sharing)
    for index, case in enumerate(cases.inf_greedy):
        table[f"inf_greedy_{index}"] = ("music_inference_model", case)
    return table


def _aliases(cases: reference.Cases) -> dict[str, str]:
    """Case name -> the name of its call: checks that read the same case share one model."""
    first: dict[Any, str] = {}
    return {name: first.setdefault(case, name) for name, (_, case) in _model_cases(cases).items()}


def case_owners(secret: Secret) -> dict[str, str]:
    """Case name -> the graded function whose artefact it is (a maker's file may hold no other)."""
    owners = {name: function for name, (function, _) in _model_cases(secret.cases()).items()}
    owners["sampling"] = "predict_and_sample"
    return owners


def _lists(arrays: list[Any]) -> list[Any]:
    return [a.tolist() for a in arrays]


def _model_call(case: Any, names: dict[str, str]) -> dict[str, Any]:
    weights = case.weights()
    return {
        "kind": "train" if isinstance(case, reference.TrainingCase) else "infer",
        "steps": case.Tx if isinstance(case, reference.TrainingCase) else case.Ty,
        "n_values": case.sizes.n_values,
        "n_a": case.sizes.n_a,
        "names": names,
        "lstm": _lists(weights.lstm_list()),
        "dense": _lists(weights.dense_list()),
    }


def _sample_call(case: reference.SamplingCase) -> dict[str, Any]:
    initializers = {
        variant: _lists(list(case.initializers("base" if variant == "base_again" else variant)))
        for variant in SAMPLE_VARIANTS
    }
    return {
        "kind": "sample",
        "n_values": case.sizes.n_values,
        "n_a": case.sizes.n_a,
        "heads": [_lists(head) for head in case.weights().head_lists()],
        "initializers": initializers,
    }


def maker_request(jobs: list[FunctionJob], secret: Secret) -> dict[str, Any]:
    """The maker's job (``grader.cleanroom.maker``): each function's code and the calls to make.

    It holds the weights of the layers handed over and the test model's, never an input
    a model is judged on, an expected output or the signature key.
    """
    cases, names = secret.cases(), secret.layer_names()
    calls: dict[str, dict[str, Any]] = {function: {} for function in rubric.GRADED_FUNCTIONS}
    aliases = _aliases(cases)
    for name, (function, case) in _model_cases(cases).items():
        if aliases[name] == name:
            calls[function][name] = _model_call(case, names)
    calls["predict_and_sample"]["sampling"] = _sample_call(cases.sampling)
    return {
        "functions": [
            {"function": job.function, "blocks": list(job.blocks), "calls": calls[job.function]}
            for job in jobs
        ]
    }


def _inputs(case: Any) -> dict[str, list[Any]]:
    if isinstance(case, reference.TrainingCase):
        return {kind: _lists(list(case.inputs(kind))) for kind in ("random", "constant")}
    return {"default": _lists(list(case.inputs()))}


def judge_request(artefacts: dict[str, Any], secret: Secret) -> dict[str, Any]:
    """The model judge's job (``grader.cleanroom.modelrun``): each model artefact and its inputs."""
    cases, names = secret.cases(), secret.layer_names()
    aliases = _aliases(cases)
    runs = {}
    for name, (_, case) in _model_cases(cases).items():
        if aliases[name] != name or name not in artefacts:
            continue
        weights = case.weights()
        runs[name] = {
            "artefact": artefacts.get(name, {"error": "no result"}),
            "given": {
                "lstm": {"name": names["lstm"], "weights": _lists(weights.lstm_list())},
                "dense": {"name": names["dense"], "weights": _lists(weights.dense_list())},
            },
            "inputs": _inputs(case),
        }
    return {"key": secret.key.hex(), "runs": runs}


def verify(signed: Any, secret: Secret) -> dict[str, Any] | None:
    """The model judge's evidence if its signature holds (None: unsigned or forged)."""
    if not isinstance(signed, dict):
        return None
    text, signature = signed.get("evidence"), signed.get("signature")
    if not isinstance(text, str) or not isinstance(signature, str):
        return None
    expected = hmac.new(secret.key, text.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        evidence = json.loads(text)
    except ValueError:
        return None
    return evidence if isinstance(evidence, dict) else None


# --- evidence per grade cell ----------------------------------------------------------


def _facts(judged: Any, kind: str | None) -> dict[str, Any]:
    """A model's facts as a judge reads them, with the run of input ``kind`` as its call."""
    if not isinstance(judged, dict):
        return {"error": "no result"}
    if "error" in judged or judged.get("is_model") is not True:
        return dict(judged)
    facts = {k: v for k, v in judged.items() if k != "runs"}
    if kind is not None:
        facts["call"] = (judged.get("runs") or {}).get(kind, {"error": "no result"})
    return facts


def _run(judged: Any, kind: str) -> dict[str, Any]:
    facts = _facts(judged, kind)
    if "error" in facts:
        return {"error": facts["error"]}
    if facts.get("is_model") is not True:
        return {"error": f"returned a {facts.get('type', 'value')}, not a keras.Model"}
    if facts.get("facts_error"):
        return {"error": facts["facts_error"]}
    return facts["call"]


def assemble(
    judged: dict[str, Any], samples: dict[str, Any], cases: reference.Cases
) -> dict[str, Any]:
    """Evidence per grade id, in the shape ``grader.judges`` reads.

    Args:
        judged: the model judge's verified evidence, per case name.
        samples: ``predict_and_sample``'s outputs per initializer variant (from the maker).
        cases: the batch's cases.
    """
    aliases = _aliases(cases)
    judged = {name: judged.get(call) for name, call in aliases.items()}
    equivalence = [
        {kind: _run(judged.get(f"dj_equivalence_{i}"), kind) for kind in ("random", "constant")}
        for i in range(len(cases.dj_equivalence))
    ]
    samples = samples if isinstance(samples, dict) else {"error": "no result"}
    if "error" in samples:
        sampled: dict[str, Any] = {v: {"error": samples["error"]} for v in SAMPLE_VARIANTS}
    else:
        sampled = {v: samples.get(v, {"error": "no result"}) for v in SAMPLE_VARIANTS}
    return {
        "test_djmodel_shapes": _facts(judged.get("dj_shapes"), "random"),
        "test_djmodel_sharing": _facts(judged.get("dj_sharing"), None),
        "test_djmodel_equivalence": {"cases": equivalence},
        "test_inference_shapes": {
            "cases": [
                _facts(judged.get(f"inf_shapes_{i}"), "default")
                for i in range(len(cases.inf_shapes))
            ]
        },
        "test_inference_sharing": _facts(judged.get("inf_sharing"), None),
        "test_inference_greedy": {
            "cases": [
                _run(judged.get(f"inf_greedy_{i}"), "default") for i in range(len(cases.inf_greedy))
            ]
        },
        "test_sample_shapes": sampled["zeros"],
        "test_sample_initializers": {v: sampled[v] for v in SAMPLE_VARIANTS if v != "zeros"},
    }


def judge_evidence(
    jobs: list[FunctionJob],
    evidence: dict[str, Any],
    notes: list[str],
    cases: reference.Cases = reference.FIXED,
) -> CleanRoomResult:
    """The clean room's scores: each grade cell's evidence judged (``grader.judges``).

    Args:
        jobs: the submission's extracted functions (``build_jobs``).
        evidence: per grade id (``assemble``).
        notes: what went wrong while gathering it.
        cases: the cases the evidence was gathered on.
    """
    result = CleanRoomResult(notes=list(notes))
    for job in jobs:
        result.programs[job.function] = "\n\n".join(job.blocks)
        for grade_id in job.grade_ids:
            found = evidence.get(grade_id, {"error": "no result"})
            verdict = judges.judge(grade_id, found, cases)
            result.verdicts[grade_id] = verdict
            result.scores[grade_id] = verdict.points
    return result
