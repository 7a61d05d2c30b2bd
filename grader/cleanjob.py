"""The clean room's evidence gathering as one sandboxed command.

    python -m grader.cleanjob IN OUT

The batch grader (``grader.isolated``) builds the clean-room jobs of a submission (the
extracted programs, ``grader.cleanroom.build_jobs``) in its own process, then runs this
module inside a sandbox of its own (``grader.jail``): it starts the clean room's child
processes on the jobs (``grader.cleanroom.collect_evidence``) and writes what they found.
The scores are judged back in the batch grader, which never runs learner code.

IN (JSON): ``{"jobs": [FunctionJob.to_json()...], "known": {cache key: evidence},
"timeout": seconds}``; ``known`` is evidence of the same programs gathered earlier in
the batch (programs are probed deterministically, so it is reused, not re-run).

OUT (JSON): ``{"evidence": {grade id: evidence}, "notes": [...], "fresh": {cache key:
evidence}}``, ``fresh`` holding the programs run here to the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grader.cleanroom import EvidenceCache, FunctionJob, collect_evidence


def _job(data: dict[str, Any]) -> FunctionJob:
    return FunctionJob(str(data["function"]), tuple(data["blocks"]), tuple(data["grade_ids"]))


def run(job_file: Path, out_file: Path, workdir: Path) -> None:
    """Gather the evidence of the jobs in ``job_file`` into ``out_file`` (see the docstring)."""
    request = json.loads(job_file.read_text(encoding="utf-8"))
    jobs = [_job(item) for item in request["jobs"]]
    cache = EvidenceCache()
    known = request.get("known", {})
    reused = set()
    for job in jobs:
        key = EvidenceCache.key(job)
        if key in known:
            cache.put(job, known[key])
            reused.add(key)
    evidence, notes = collect_evidence(jobs, workdir, float(request["timeout"]), cache)
    fresh = {}
    for job in jobs:
        key = EvidenceCache.key(job)
        found = cache.get(job)
        if key not in reused and found is not None:
            fresh[key] = found
    temporary = out_file.with_suffix(".tmp")
    temporary.write_text(
        json.dumps({"evidence": evidence, "notes": notes, "fresh": fresh}), encoding="utf-8"
    )
    temporary.replace(out_file)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m grader.cleanjob IN OUT`` (the working folder is the cwd)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m grader.cleanjob IN OUT", file=sys.stderr)
        return 2
    run(Path(args[0]), Path(args[1]), Path.cwd())
    return 0


if __name__ == "__main__":
    sys.exit(main())
