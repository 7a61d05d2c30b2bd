"""The clean-room wing: each graded function regraded by what it makes, away from the notebook.

- ``evidence``: the batch's ``Secret`` (cases, layer names, signature key), the jobs
  extracted from a submission (``build_jobs``, ``program_key``), what the maker and the
  model judge are asked (``maker_request``, ``judge_request``), the signature check
  (``verify``) and the judging of the evidence (``assemble``, ``judge_evidence``).
- ``maker``: ``python -m grader.cleanroom.maker JOB``, the one process that runs extracted
  learner code for a score, in a sandbox of its own (uid B); it records artefacts.
- ``modelrun``: ``python -m grader.cleanroom.modelrun JOB OUT``, the model judge, in
  another sandbox (uid C, no learner code): rebuilds each model in safe mode, runs it on
  the batch's secret inputs and signs what it computed.
- ``run``: one submission's clean room on a worker: the maker, then the model judge, in
  their sandboxes; evidence shared within a batch by program key.

Imports go one way: the clean room uses ``grader.sandbox`` and the scoring core, never
``grader.batch``. This package imports nothing itself: the sandboxes' copy of the code
holds it (with ``maker`` and ``modelrun`` only, never ``evidence`` or ``run``).
"""
