"""The red-team catalogue: attacks on the batch grader, and honest work that must keep full marks.

Each *attack* is a submission (or, for intake tricks, an entry of the submissions folder)
that tries something ``/work/shared/SECURITY.md`` forbids: forged evidence, a poisoned
evidence cache, reading hidden files, the network, killing processes, exhausting memory,
processes, disk or System V IPC, files left for a later submission, patched modules,
huge or endless output, forged notebook metadata and tricks on the intake. Each is built
from the source notebook with the helpers of ``tests/grader/catalogue.py`` (a release with the
solution's, a mutant's or the stubs' answers, plus the attack's code), or written into
the submissions folder as a symlink, a zip or an oddly named file.

An attack must gain nothing (its total is at most its golden total and at most its
base's total in ``tests/grader/golden/mutant_scores.json``), lower no one else's score (the two
*victims*, byte-identical copies of the solution graded after a cache-poisoning attack
that shares their djmodel and music_inference_model programs, keep 25) and leave nothing
behind (files in world-writable folders, System V IPC objects, processes of the
sandboxes' users). Each *honest variant* is another way to write the right answer and
must keep 25 / 25.

Attack code runs in two places: in the notebook's kernel (the answer cell it is put in)
and in the grader's clean room, where each graded function is extracted with only what
it reads (``grader.extract``). ``_everywhere`` puts an attack in an answer cell and makes
the graded functions read its result, so that the extraction carries it into the clean
room's programs too.

Attacks say that something worked by printing a line ``LEAK:<marker> ...`` (in the
kernel) or by raising it as an error (in the clean room, whose output is silenced); the
tag is built at run time, so that it appears in no submission's source and the tests can
look for it in every file of the course. The names of the files, IPC keys and processes
an attack creates carry the same batch marker, so that leftovers can be found and
removed.

The package holds one module per attack class (``forgery``, ``reach``, ``exhaustion``,
``tampering``, ``intake``), the honest variants (``honest``), the building blocks
(``base``), the catalogue itself with the victims (``items``), what a batch can leave on
the machine (``machine``) and the red-team half of the shared batch (``run``: written
into it, observed after it, cleaned up). The batch itself is ``run_catalogues`` in
``tests/grader/catalogue_batch.py``, which grades the red-team items next to the mutant
and cheat catalogues.
"""
