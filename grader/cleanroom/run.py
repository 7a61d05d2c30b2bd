"""The clean room's run for one submission: the maker, then the model judge, in sandboxes.

``clean_room`` gives the evidence for every grade cell of a submission: known already in
this batch (``SharedEvidence``, by a program key the grader computed), or made here. The
maker (``grader.cleanroom.maker``, uid B) calls the learner's extracted functions and
keeps what they made; the model judge (``grader.cleanroom.modelrun``, uid C, no learner
code) runs the models on this batch's secret inputs and signs what they computed; the
signature is checked and the evidence assembled (``grader.cleanroom.evidence``).
``diagnose`` asks the notebook's public checks about functions that lost points
(feedback only). Everything either sandbox wrote is read as untrusted data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.cleanroom import evidence as cleanroom
from grader.cleanroom.maker import ARTEFACT_LIMIT, plain_evidence
from grader.cleanroom.modelrun import LAMBDA
from grader.sandbox.launcher import run_jailed
from grader.sandbox.limits import Limits
from grader.sandbox.scratch import own, read_json, remove_tree
from grader.sandbox.spec import JailResult, JailSpec, ending


def evidence_folder(base: Path, batch_id: str) -> Path:
    """This batch's shared evidence on this machine; other batches' older than a day go."""
    root = base / "evidence"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if old.name != batch_id and time.time() - old.stat().st_mtime > 86_400:
                remove_tree(old)
    return root / batch_id


class SharedEvidence:
    """Clean-room evidence shared by the worker processes of one machine in one batch.

    A program (``cleanroom.EvidenceCache.key``) is probed by the first task that claims
    it (an exclusive ``flock`` on ``<key>.lock``, held while it probes); a task that finds
    it claimed waits for the evidence rather than probing it a second time. Only evidence
    of a clean room that went well is kept, under a key the grader computed.
    The folder is root's (or the grader's) alone: no sandbox sees it.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder = folder

    def get(self, key: str) -> dict[str, Any] | None:
        """The evidence of program ``key``, if a task has stored it."""
        try:
            found = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def put(self, key: str, evidence: dict[str, Any]) -> None:
        """Store the evidence of program ``key`` (atomically)."""
        temporary = self.folder / f".{key}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(evidence), encoding="utf-8")
        temporary.replace(self.folder / f"{key}.json")

    def claim(self, key: str) -> Any | None:
        """Claim program ``key`` (the returned handle holds the claim), or None if taken."""
        handle = (self.folder / f"{key}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return handle

    def wait(self, key: str, deadline: float) -> dict[str, Any] | None:
        """The evidence of ``key`` once the task that claimed it is done (None: it failed)."""
        while time.monotonic() < deadline:
            handle = self.claim(key)
            if handle is not None:  # the other task is done (or died): its result, if any
                handle.close()
                return self.get(key)
            time.sleep(0.5)
        return None


@dataclass
class CleanRun:
    """What the clean room's two sandboxes gave for one submission.

    Attributes:
        evidence: per grade id, in the shape ``grader.judges`` reads.
        notes: what went wrong (each makes the submission "needs review").
        fresh: the evidence under its program key when it may be reused (nothing went wrong).
        maker: the maker sandbox's run (None: the evidence was known).
        judge: the model judge sandbox's run (None: not needed or known).
    """

    evidence: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    fresh: dict[str, Any] = field(default_factory=dict)
    maker: JailResult | None = None
    judge: JailResult | None = None


def clean_room(
    jobs: list[cleanroom.FunctionJob],
    key: str,
    known: dict[str, Any],
    shared: SharedEvidence,
    specs: tuple[JailSpec, JailSpec],
    folders: tuple[Path, Path, Path],
    uids: tuple[int | None, int | None],
    limits: Limits,
    secret: cleanroom.Secret,
) -> CleanRun:
    """Evidence for every grade cell: known in this batch, or made and judged here.

    ``key`` is the grader's digest of the submission's programs (``cleanroom.program_key``);
    a submission with the same programs claimed first is waited for, not run twice.
    ``specs`` are the maker's and the model judge's sandboxes, ``folders`` their working
    folders and the task's private folder, ``uids`` their users.
    """
    deadline = time.monotonic() + limits.timeout
    found = known.get(key) or shared.get(key)
    if found is not None:
        return CleanRun(found)
    handle = shared.claim(key)
    if handle is None:
        found = shared.wait(key, deadline)
        if found is not None:
            return CleanRun(found)
        handle = shared.claim(key)
    try:
        found = shared.get(key)  # stored between the look and the claim
        if found is not None:
            return CleanRun(found)
        run = _make_and_judge(jobs, specs, folders, uids, limits, secret, deadline)
        if not run.notes:
            shared.put(key, run.evidence)
            run.fresh = {key: run.evidence}
        return run
    finally:
        if handle is not None:
            handle.close()


def _make_and_judge(
    jobs: list[cleanroom.FunctionJob],
    specs: tuple[JailSpec, JailSpec],
    folders: tuple[Path, Path, Path],
    uids: tuple[int | None, int | None],
    limits: Limits,
    secret: cleanroom.Secret,
    deadline: float,
) -> CleanRun:
    """Run the maker on the learner's functions, then the model judge on what they made."""
    maker_spec, judge_spec = specs
    clean_dir, judge_dir, private = folders
    notes: list[str] = []
    request = cleanroom.maker_request(jobs, secret)
    (clean_dir / "job.json").write_text(json.dumps(request), encoding="utf-8")
    own(clean_dir, uids[0])
    seconds = max(1.0, deadline - time.monotonic())
    command = [
        sys.executable,
        "-m",
        "grader.cleanroom.maker",
        "job.json",
        f"{max(1.0, seconds - 5):.0f}",
    ]
    maker = run_jailed(
        maker_spec, command, seconds, private / "maker.launcher.log", private / "maker.spec.json"
    )
    if maker.timed_out:
        notes.append(f"the clean room ran past {limits.timeout:.0f} s")
    elif maker.returncode != 0:
        notes.append(f"the clean room's maker ended oddly ({_ending(maker.returncode)})")
    owners = cleanroom.case_owners(secret)
    model_artefacts: dict[str, Any] = {}
    samples: Any = {"error": "no result"}
    for index, job in enumerate(jobs):
        written = read_json(clean_dir / f"artefacts-{index}.json", ARTEFACT_LIMIT)
        made = written.get("artefacts") if isinstance(written, dict) else None
        if not isinstance(made, dict) or written.get("function") != job.function:
            notes.append(f"{job.function}: the clean room wrote no readable result")
            continue
        for case, artefact in made.items():
            if owners.get(case) == job.function:
                model_artefacts[case] = artefact
        if job.function == "predict_and_sample":
            samples = made.get("sampling", samples)
    judged = {case: plain_evidence(a) for case, a in model_artefacts.items()}
    to_run = {case: a for case, a in model_artefacts.items() if judged[case] is None}
    judge: JailResult | None = None
    if to_run:
        (judge_dir / "job.json").write_text(
            json.dumps(cleanroom.judge_request(to_run, secret)), encoding="utf-8"
        )
        own(judge_dir, uids[1])
        seconds = max(1.0, deadline - time.monotonic())
        judge = run_jailed(
            judge_spec,
            [sys.executable, "-m", "grader.cleanroom.modelrun", "job.json", "evidence.json"],
            seconds,
            private / "judge.launcher.log",
            private / "judge.spec.json",
        )
        verified = cleanroom.verify(read_json(judge_dir / "evidence.json", 50_000_000), secret)
        if verified is None:
            how = "ran out of time" if judge.timed_out else _ending(judge.returncode)
            notes.append(f"the model judge gave no signed result ({how})")
            verified = {}
        for case in to_run:
            judged[case] = verified.get(case, {"error": "the model could not be judged"})
        lambdas = sorted(
            {
                owners[c]
                for c, found in judged.items()
                if isinstance(found, dict) and LAMBDA in str(found.get("error", ""))
            }
        )
        notes.extend(
            f"{function}: its model holds a Lambda layer, which the grader does not run "
            "(scored 0 there): look at it by hand"
            for function in lambdas
        )
    evidence = cleanroom.assemble(judged, samples, secret.cases())
    return CleanRun(evidence, notes, {}, maker, judge)


def diagnose(
    jobs: list[cleanroom.FunctionJob],
    functions: list[str],
    maker_spec: JailSpec,
    task: Path,
    uid: int | None,
    limits: Limits,
) -> dict[str, str]:
    """What the public checks say of the functions that lost points (feedback, not scores).

    A second, short maker run in a fresh folder (the first one's folder was the learner's
    to fill); only for submissions that lost points, so a correct one pays nothing.
    """
    wanted = [job for job in jobs if job.function in functions]
    if not wanted:
        return {}
    folder = task / "diagnose"
    for name in ("home", "tmp"):
        (folder / name).mkdir(parents=True)
    request = {
        "functions": [
            {"function": job.function, "blocks": list(job.blocks), "diagnose": True}
            for job in wanted
        ]
    }
    (folder / "job.json").write_text(json.dumps(request), encoding="utf-8")
    own(folder, uid)
    private = task / "private"
    spec = dataclasses.replace(
        maker_spec,
        workdir=str(folder),
        cwd=str(folder),
        env={**maker_spec.env, "HOME": str(folder / "home"), "TMPDIR": str(folder / "tmp")},
        status_file=str(private / "diagnose.status.json"),
        output=str(private / "diagnose.log"),
    )
    seconds = min(60.0, limits.timeout)
    command = [sys.executable, "-m", "grader.cleanroom.maker", "job.json", f"{seconds - 5:.0f}"]
    run_jailed(spec, command, seconds, private / "diagnose.launcher.log", private / "d.spec.json")
    found = {}
    for index, job in enumerate(wanted):
        written = read_json(folder / f"artefacts-{index}.json", ARTEFACT_LIMIT)
        made = written.get("artefacts") if isinstance(written, dict) else None
        text = made.get("diagnosis") if isinstance(made, dict) else None
        if isinstance(text, str) and text:
            found[job.function] = text[:1500]
    return found


def _ending(code: int | None) -> str:
    if code is None:
        return "no exit status"
    return ending(code)
