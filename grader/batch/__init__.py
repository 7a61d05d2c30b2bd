"""The batch wing: a whole class graded on Dask workers, resumably.

- ``run``: ``python -m grader autograde``'s engine: the Dask cluster, the tasks sent out,
  the results written as they arrive, the summary.
- ``state``: what a run leaves in the course so that the next one resumes
  (``State``: ``.batch/state.json``; ``Writer``: the gradebook, reviews, logs and
  ``report.json``, one result at a time).
- ``task``: one submission graded on a worker (``grade_isolated``: the notebook run and
  the clean room at once, each in sandboxes), returning an ``Outcome``.
- ``intake``: the submissions folder read safely (layouts, zips, odd names, links).
- ``integrity``: snapshots of the course files no submission may change.
- ``export``: ``grades.csv`` from the gradebook.

Imports go one way: the batch uses ``grader.cleanroom``, ``grader.sandbox`` and the
scoring core; only ``grader.cli`` uses the batch.
"""
