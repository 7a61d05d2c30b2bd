"""The red-team catalogue: every attack (one per line), the honest variants and the two victims."""

from __future__ import annotations

from catalogue import (
    NOTEBOOK,
)

from redteam.base import (
    ATTACK,
    CRASHED,
    FULL_MARKS,
    GRADED,
    GRADED_FUNCTIONS,
    HONEST,
    MALFORMED,
    NEEDS_REVIEW,
    PRELUDE,
    RAISE_LEAKS,
    RUN_ATTACK,
    TIMEOUT,
    VICTIM,
    VICTIMS,
    Item,
    Maker,
    Transform,
    _delegating,
    _everywhere,
    _in_body,
    _new_cell,
    _new_cell_before,
    _notebook,
    _prepend,
    _replace,
)
from redteam.exhaustion import (
    DAEMON,
    DISK,
    ENDLESS,
    EXIT_EARLY,
    FORK_BOMB,
    HUGE_LINE,
    IPC,
    KILL_ALL,
    MEMORY_20GB,
    MEMORY_PROCESSES,
    PLANT,
    READ_LEFTOVERS,
)
from redteam.forgery import (
    FAKE_INFERENCE,
    FAKE_MODEL,
    FAKE_SAMPLE,
    FORGE_DIRS,
    FORGE_FILES,
    LAMBDA_DJMODEL,
    LAMBDA_INFERENCE,
    POISON_FOLDER,
    SPOIL,
)
from redteam.honest import (
    HELPER_CELL,
    HONEST_HELPER,
    HONEST_OPS_ONLY,
    HONEST_RENAMED,
    HONEST_RESHAPE_PER_STEP,
    HONEST_STEP_AXIS,
    HONEST_WHILE,
    STEP_AXIS_CELL,
    _answers,
)
from redteam.intake import _inner_link, _odd_name, _symlink, _zip_slip, _zip_symlink
from redteam.reach import IMPORT_INTERNALS, NETWORK, READ_HIDDEN
from redteam.tampering import PATCH, SHADOW, _change_kernelspec, _forge_grade_cells

# --- the catalogue -------------------------------------------------------------------


def _attack(
    name: str,
    kind: str,
    description: str,
    transforms: tuple[Transform, ...],
    base: str = "untouched",
    expected_total: float = 0.0,
    expected_status: str = GRADED,
) -> Item:
    return Item(
        name,
        ATTACK,
        kind,
        description,
        _notebook(base, *transforms)(name),
        base,
        expected_total,
        expected_status,
    )


def _intake(name: str, token: str, description: str, make: Maker) -> Item:
    return Item(
        name,
        ATTACK,
        "intake",
        description,
        make,
        "untouched",
        0.0,
        MALFORMED,
        token,
    )


def _honest(name: str, description: str, transforms: tuple[Transform, ...]) -> Item:
    return Item(
        name,
        HONEST,
        "honest",
        description,
        _notebook("solution", *transforms)(name),
        "solution",
        FULL_MARKS,
        GRADED,
    )


def items() -> list[Item]:
    """The red-team catalogue: attacks, honest variants and the two victims.

    Names order the batch (it grades submissions by id): the planter and the cache
    poisoners (``a_``) go first, the reader of leftovers (``y_``) and the victims
    (``zz_``) last.
    """
    attacks = [
        _attack(
            "forge_evidence_files",
            "forged evidence",
            "kernel: grader.hidden replaced; clean room: forged evidence/artefact files written "
            "under every guessed name in the working folder, its parents, HOME and TMPDIR, then "
            "os._exit(0)",
            _everywhere(FORGE_FILES, GRADED_FUNCTIONS),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "forge_output_dirs",
            "forged evidence",
            "clean room: every output path taken first (a folder, a FIFO, symlinks to "
            "/etc/shadow and /dev/zero) and the working folder made read-only",
            _everywhere(FORGE_DIRS, GRADED_FUNCTIONS),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "forge_fake_model",
            "forged evidence",
            "returns keras.Model subclasses whose to_json is a hand-written config (right "
            "shapes, plus Lambda/os.system/exec layers) and whose get_weights pickles a "
            "command; predict_and_sample returns pickle bombs",
            (
                _replace("djmodel", PRELUDE + "\n\n" + FAKE_MODEL),
                _replace("music_inference_model", FAKE_INFERENCE),
                _replace("predict_and_sample", FAKE_SAMPLE),
            ),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "forge_lambda_layer",
            "forged evidence",
            "models whose outputs come from a keras Lambda layer running Python code (the "
            "LSTM loop, and a file written wherever the Lambda runs)",
            (
                _replace("djmodel", PRELUDE + "\n\n" + LAMBDA_DJMODEL),
                _replace("music_inference_model", LAMBDA_INFERENCE),
            ),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "a_poison_cache_memory",
            "cache poisoning",
            "the solution's djmodel and music_inference_model (byte-identical to the victims') "
            "with a predict_and_sample whose program spoils the other functions' evidence: in "
            "memory (frames, every layer's weights) and on disk (numbers of every JSON file "
            "negated, by a watcher for a minute)",
            (
                _prepend("predict_and_sample", PRELUDE + "\n\n" + SPOIL + "\n\n" + RUN_ATTACK),
                _in_body("predict_and_sample", RAISE_LEAKS),
            ),
            base="solution",
            expected_total=FULL_MARKS,
        ),
        _attack(
            "a_poison_cache_folder",
            "cache poisoning",
            "looks for the grader's shared evidence folders (/tmp/jazz-batch-*/evidence, "
            "folders named evidence or cache nearby) and writes over every file for 3 s",
            _everywhere(POISON_FOLDER),
        ),
        _attack(
            "read_hidden_files",
            "hidden files",
            "walks the file system for solutions/, the course (gradebook, source, reports), "
            "other submissions, grader/reference.py and /etc/shadow, prints what it reads and "
            "uses any answers found",
            _delegating(READ_HIDDEN),
        ),
        _attack(
            "import_grader_internals",
            "hidden files",
            "imports grader.reference, grader.judges and grader.probes and reads the "
            "environment for the batch's secrets, in the kernel and in the clean room",
            _everywhere(IMPORT_INTERNALS, GRADED_FUNCTIONS),
        ),
        _attack(
            "network_reach",
            "network",
            "scans the loopback ports (a Dask scheduler would be asked to run code as root), "
            "resolves a name, connects to outside hosts over TCP and UDP",
            _everywhere(NETWORK),
        ),
        _attack(
            "kill_everything",
            "processes",
            "SIGKILL to its parent, to pid 1, to every visible process, to its process group "
            "and to -1, in the kernel and in the clean room",
            _everywhere(KILL_ALL),
            expected_status=CRASHED,
        ),
        _attack(
            "exit_early_clean_room",
            "processes",
            "the solution, but predict_and_sample calls os._exit(0) in the clean room (status "
            "0, nothing written)",
            (_prepend("predict_and_sample", PRELUDE), _in_body("predict_and_sample", EXIT_EARLY)),
            base="solution",
            expected_total=20.0,
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "fork_bomb",
            "exhaustion",
            "a shell starting 6000 sleepers and 200 forks of the process, in the kernel and "
            "in the clean room",
            _everywhere(FORK_BOMB),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "daemon_left_running",
            "leftovers",
            "a daemon (double fork, setsid, signals ignored) meant to outlive the sandbox",
            _everywhere(DAEMON, GRADED_FUNCTIONS),
        ),
        _attack(
            "memory_20gb",
            "exhaustion",
            "allocates and touches 20 GiB in one process",
            _everywhere(MEMORY_20GB),
            expected_status=CRASHED,
        ),
        _attack(
            "memory_many_processes",
            "exhaustion",
            "four processes holding 1.25 GiB each at once (more than the submission's memory, "
            "each under the per-process limit)",
            _everywhere(MEMORY_PROCESSES),
            expected_status=CRASHED,
        ),
        _attack(
            "ipc_exhaustion",
            "exhaustion",
            "48 System V shared memory segments, semaphore sets and message queues each, and "
            "POSIX shared memory files, never removed",
            _everywhere(IPC),
        ),
        _attack(
            "disk_fill",
            "exhaustion",
            "768 MiB in HOME and TMPDIR, 64 MiB in /tmp, /var/tmp and /dev/shm, and a "
            "directory tree 3000 deep (deeper than a recursive removal reaches)",
            _everywhere(DISK),
        ),
        _attack(
            "huge_line",
            "output",
            "prints 200 MB on one line, on stdout and on stderr",
            _everywhere(HUGE_LINE),
        ),
        _attack(
            "endless_lines_and_hang",
            "output",
            "the kernel prints lines without end (about 100,000 a second); the clean room "
            "sleeps forever, deaf to SIGTERM, SIGINT and SIGHUP (one item: each costs the "
            "batch a full --timeout)",
            _everywhere(ENDLESS),
            expected_status=TIMEOUT,
        ),
        _attack(
            "a_plant_leftovers",
            "leftovers",
            "the solution, which also plants its answers for a later submission: files in "
            "/tmp, /var/tmp, /dev/shm, /run/lock and nearby folders, and System V shared memory",
            _everywhere(PLANT, GRADED_FUNCTIONS),
            base="solution",
            expected_total=FULL_MARKS,
        ),
        _attack(
            "y_read_leftovers",
            "leftovers",
            "the stubs, with a reader of what a_plant_leftovers planted (files, System V "
            "shared memory) that uses the answers found",
            _delegating(READ_LEFTOVERS),
        ),
        _attack(
            "patch_modules",
            "patching",
            "layers_in_loop, patching numpy (allclose, isclose, testing), builtins all/any, "
            "json.dumps/dump, keras.Model.to_json/get_weights/count_params and the grader's "
            "judges, probes and hidden modules where importable, in the kernel and clean room",
            _everywhere(PATCH, GRADED_FUNCTIONS),
            base="layers_in_loop",
            expected_total=17.0,
        ),
        _attack(
            "shadow_modules",
            "patching",
            "writes grader/, numpy.py, keras.py, sitecustomize.py and usercustomize.py where a "
            "restarted Python would import them (working folder, parents, HOME, TMPDIR), then "
            "ends the clean-room process so that it restarts",
            _everywhere(SHADOW, GRADED_FUNCTIONS),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "forge_grade_cells",
            "notebook metadata",
            "grade cells edited to score 100, re-pointed, turned into solution cells, one "
            "deleted; a learner grade cell worth 1000; a learner cell claiming the imports "
            "cell's id",
            (_forge_grade_cells,),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "change_kernelspec",
            "notebook metadata",
            "the solution with a kernelspec of another name, language and argv, and forged "
            "notebook-level nbgrader metadata",
            (_change_kernelspec,),
            base="solution",
            expected_total=FULL_MARKS,
        ),
    ]
    intake = [
        _intake(
            "intake_link_secret",
            "rtlinksecret",
            "a symlink rtlinksecret.ipynb to a solution notebook outside the submissions folder",
            _symlink("rtlinksecret.ipynb", lambda ctx, folder: ctx.secret_notebook),
        ),
        _intake(
            "intake_link_victim",
            "rtlinkvictim",
            "a symlink rtlinkvictim.ipynb to another student's notebook",
            _symlink("rtlinkvictim.ipynb", lambda ctx, folder: folder / VICTIMS[0] / NOTEBOOK),
        ),
        _intake(
            "intake_link_folder",
            "rtlinkdir",
            "a symlink rtlinkdir to a folder outside holding a solution notebook",
            _symlink("rtlinkdir", lambda ctx, folder: ctx.secret_folder),
        ),
        _intake(
            "intake_inner_link",
            "rtinnerlink",
            "a student folder whose notebook is a symlink to a solution outside",
            _inner_link,
        ),
        _intake(
            "intake_zip_slip",
            "rtzipslip",
            "a zip whose only notebook is ../../<marker>-zipslip/<notebook>, with an absolute "
            "/tmp member",
            _zip_slip,
        ),
        _intake(
            "intake_zip_symlink",
            "rtzipsymlink",
            "a zip whose notebook member is a symlink to a solution outside",
            _zip_symlink,
        ),
        _intake(
            "intake_hidden_name",
            "rthidden",
            "a solution notebook named .rthidden.ipynb",
            _odd_name(".rthidden.ipynb"),
        ),
        _intake(
            "intake_upper_extension",
            "rtupper",
            "a solution notebook named RTUPPER.IPYNB",
            _odd_name("RTUPPER.IPYNB"),
        ),
        _intake(
            "intake_double_extension",
            "rttxt",
            "a solution notebook named rttxt.ipynb.txt",
            _odd_name("rttxt.ipynb.txt"),
        ),
        _intake(
            "intake_space_name",
            "rtspace",
            "a solution notebook named 'rtspace x.ipynb'",
            _odd_name("rtspace x.ipynb"),
        ),
        _intake(
            "intake_newline_name",
            "rtnewline",
            "a solution notebook whose name holds a newline and a CSV formula",
            _odd_name('rtnewline\n=cmd|"x",.ipynb'),
        ),
    ]
    honest = [
        _honest(
            "honest_renamed",
            "names of my own everywhere; ops.expand_dims for the inference feedback",
            _answers(HONEST_RENAMED),
        ),
        _honest(
            "honest_while_loops",
            "while loops in all three functions, unnamed inputs, a new Reshape((1, n_values)) "
            "for the inference feedback, a one-hot written by indexing",
            _answers(HONEST_WHILE),
        ),
        _honest(
            "honest_reshape_per_step",
            "djmodel creates a weightless Reshape((1, n_values)) at every step instead of "
            "using reshaper; predict_and_sample takes each step's argmax in a loop",
            _answers(HONEST_RESHAPE_PER_STEP),
        ),
        _honest(
            "honest_ops_only",
            "ops.expand_dims for the reshape in djmodel; a one-hot from ops.equal and "
            "ops.arange (no Lambda, no RepeatVector) with ops.reshape in the inference model",
            _answers(HONEST_OPS_ONLY),
        ),
        _honest(
            "honest_helper_cell",
            "a helper one_step() in a cell of the learner's own, used by djmodel and "
            "music_inference_model",
            (_new_cell("layers", HELPER_CELL), *_answers(HONEST_HELPER)),
        ),
        _honest(
            "honest_extra_cell_after",
            "the solution with extra cells after djmodel and after music_inference_model "
            "that print pieces and model (set by cells grading skips)",
            (
                _new_cell("djmodel", "print(len(pieces), 'pieces')\n"),
                _new_cell("music_inference_model", "model.summary()\n"),
            ),
        ),
        _honest(
            "honest_extra_cell_before",
            "extra cells before djmodel: one printing pieces (set by a skipped cell), one "
            "defining the constant djmodel reads; ops.take for the step",
            (
                _new_cell_before("djmodel", "print(pieces[0].name)\n"),
                _new_cell_before("djmodel", STEP_AXIS_CELL),
                *_answers(HONEST_STEP_AXIS),
            ),
        ),
        _honest(
            "honest_loop_argmax",
            "predict_and_sample with a Python loop over the predictions and np.eye one-hots "
            "(the solution stacks them and takes one argmax)",
            (_replace("predict_and_sample", HONEST_RESHAPE_PER_STEP["predict_and_sample"]),),
        ),
    ]
    victims = [
        Item(
            name,
            VICTIM,
            "victim",
            "the solution, byte-identical to the other victim, graded after the cache poisoners",
            _notebook("solution")(name),
            "solution",
            FULL_MARKS,
            GRADED,
        )
        for name in VICTIMS
    ]
    return [*attacks, *intake, *honest, *victims]
