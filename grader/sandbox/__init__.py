"""The sandbox wing: where learner code runs, and nothing else of the grader.

- ``launcher``: ``python -m grader.sandbox.launcher SPEC -- COMMAND...`` runs one command
  in a sandbox; ``run_jailed`` is the caller's side (wall clock, clean-up).
- ``spec``: what a sandbox is asked for (``JailSpec``) and what it achieved
  (``Protections``, ``JailResult``).
- ``namespaces``, ``mounts``, ``cgroups``, ``seccomp``: the protections, one module each;
  ``confine``: the steps that put a process in them and start the command.
- ``protocol`` and ``forkserver``: the warm start (a process that imported TensorFlow
  forks each sandboxed command); the launcher and the fork server share only the protocol.
- ``kernelbox``: ``nbgrader autograde`` in the worker, with only its kernel sandboxed.
- ``software``: the sandboxes' own copy of the code (no reference, judge or test case).
- ``limits`` and ``scratch``: what a submission may use, and where its sandboxes live on a
  worker (folders, user ids, environments, clean-up).

Imports go one way: the sandbox wing uses the scoring core (``grader.errors``,
``grader.rubric``) and nothing of ``grader.cleanroom`` or ``grader.batch``. This package
imports nothing itself: a sandbox holds it in its copy of the code.
"""
