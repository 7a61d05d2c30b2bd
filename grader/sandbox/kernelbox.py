"""nbgrader's autograde in the grading process, with only the kernel in a sandbox.

The batch grader runs ``nbgrader autograde`` for one submission inside its (trusted,
long-lived) worker process: nbgrader's converter reads the scratch course, restores the
grade cells and writes the scores, and nothing of it is reachable by learner code. Only
the kernel, the process that executes the notebook, starts in a sandbox
(``grader.sandbox.launcher``), through ``JailedKernelManager``:

- the kernel command is wrapped in ``python -m grader.sandbox.launcher SPEC --``;
- the kernel talks to nbgrader over ZeroMQ's ``ipc`` transport (Unix sockets in the
  kernel's own folder), which crosses the sandbox's network namespace where TCP on the
  host's loopback would not;
- its connection file is handed to the sandbox's user.

Running nbgrader in-process saves the start-up of an nbgrader process per submission
(imports of nbgrader, nbconvert and SQLAlchemy: about 3 s of CPU) and keeps the scratch
gradebook out of the sandbox's sight.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from sqlalchemy.exc import SAWarning
from traitlets import Integer, Unicode

from grader.errors import SandboxError
from grader.rubric import ASSIGNMENT_ID
from grader.sandbox.scratch import SOCKET_PATH_LIMIT


class JailedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs under ``python -m grader.sandbox.launcher``."""

    jail_spec_file = Unicode(
        "",
        config=True,
        help="the sandbox spec (``grader.sandbox.spec.JailSpec`` as JSON) of the kernel",
    )
    kernel_uid = Integer(-1, config=True, help="user id the kernel runs as (-1: the grader's own)")
    launch_cwd = Unicode(
        "", config=True, help="working directory of the launcher (not the notebook's folder)"
    )

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        """Launch from ``launch_cwd``: the scratch course stays out of the kernel's ``/proc``."""
        if self.launch_cwd:
            kw["cwd"] = self.launch_cwd
        await super()._async_launch_kernel(kernel_cmd, **kw)

    def write_connection_file(self, **kwargs: Any) -> None:
        """Write the connection file, then give it to the kernel's user."""
        super().write_connection_file(**kwargs)
        if self.kernel_uid >= 0 and os.geteuid() == 0:
            os.chown(self.connection_file, self.kernel_uid, self.kernel_uid)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's command, wrapped in the sandbox launcher."""
        command = super().format_kernel_cmd(extra_arguments)
        if not self.jail_spec_file:
            raise RuntimeError("JailedKernelManager.jail_spec_file is not set")
        return [
            sys.executable,
            "-m",
            "grader.sandbox.launcher",
            self.jail_spec_file,
            "--",
            *command,
        ]


def autograde(
    course: Path, student: str, spec_file: Path, kernel_dir: Path, uid: int | None
) -> dict[str, Any]:
    """``nbgrader autograde`` of ``student`` in the scratch ``course``, in this process.

    Args:
        course: the scratch course (configuration, gradebook, the submission).
        student: the student's id.
        spec_file: the kernel's sandbox spec.
        kernel_dir: the kernel's folder (its connection file and sockets go in ``run/``).
        uid: the kernel's user (None: the grader's own).

    Returns:
        nbgrader's ``capture_log`` result: ``success``, ``log`` and, on failure, ``error``.
    """
    run = kernel_dir / "run"
    sockets = f"{run / 'kernel-ipc'}-65535"
    if len(sockets) > SOCKET_PATH_LIMIT:
        raise SandboxError(
            f"the kernel's sockets would have paths of {len(sockets)} characters, and a Unix "
            f"socket's path holds at most {SOCKET_PATH_LIMIT}: grade from a shorter scratch "
            f"folder than {kernel_dir}"
        )
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", str(course)).load_config()
    config.CourseDirectory.root = str(course)
    config.GradingExecute.kernel_manager_class = JailedKernelManager
    config.JailedKernelManager.jail_spec_file = str(spec_file)
    config.JailedKernelManager.kernel_uid = -1 if uid is None else uid
    config.JailedKernelManager.launch_cwd = str(kernel_dir)
    config.JailedKernelManager.transport = "ipc"
    config.JailedKernelManager.connection_file = str(run / "kernel.json")
    config.JailedKernelManager.ip = str(run / "kernel-ipc")
    # Every cell has answered by then; a graceful shutdown only waits (about 1.5 s) for
    # TensorFlow to tear down in a process that is about to be killed with its sandbox.
    config.GradingExecute.shutdown_kernel = "immediate"
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = ASSIGNMENT_ID
    coursedir.student_id = student
    app = Autograde(coursedir=coursedir, config=config)
    app.force = True
    app.create_student = True
    with contextlib.suppress(Exception):
        app.log.propagate = False  # the log is returned; the worker's stderr stays quiet
    with warnings.catch_warnings():
        # nbgrader's own gradebook updates trip SQLAlchemy warnings that say nothing here.
        warnings.simplefilter("ignore", SAWarning)
        return capture_log(app)
