"""What one submission may use: time, memory, files, processes, scratch disk.

``Limits`` is chosen once for a batch (``--timeout``, ``--memory``) and becomes each
sandbox's ``JailSpec`` (``grader.sandbox.scratch.sandbox_spec``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """What one submission may use (each of its two sandboxes, separately).

    Attributes:
        timeout: wall-clock seconds for the notebook run and for the clean-room regrade.
        memory_bytes: address space of each process (RLIMIT_AS). TensorFlow reserves
            about 1.5 GiB of address space before it computes anything; 4 GiB leaves
            room for the grading and stops a runaway allocation well before the machine
            suffers.
        file_bytes: largest file a process may write.
        processes: processes and threads of a sandbox's user (root only: RLIMIT_NPROC),
            and of each sandbox as a whole (root only: its cgroup's pids.max).
        scratch_bytes: size of the file system all sandboxes of one submission write to
            (a tmpfs of its own, root only): disk a submission can fill.
        sandbox_memory_bytes: memory of each sandbox as a whole, all its processes
            together (root only: its cgroup's memory limit; an out-of-memory kill in it
            ends the sandbox). None: ``memory_bytes``, so that ``--memory`` bounds a
            sandbox however many processes it starts.
    """

    timeout: float = 600.0
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 2**30
    processes: int = 4096
    sandbox_memory_bytes: int | None = None
    scratch_bytes: int = 2 * 2**30

    @property
    def sandbox_memory(self) -> int:
        """Memory of each sandbox as a whole (``sandbox_memory_bytes`` or ``memory_bytes``)."""
        if self.sandbox_memory_bytes is not None:
            return self.sandbox_memory_bytes
        return self.memory_bytes

    @property
    def cpu_seconds(self) -> int:
        """CPU seconds of each process: twice the wall-clock limit, plus a minute."""
        return int(2 * self.timeout) + 60

    def describe(self) -> dict[str, Any]:
        """The limits as JSON data, for the report."""
        return {
            "timeout_s": self.timeout,
            "cpu_s_per_process": self.cpu_seconds,
            "memory_bytes_per_process": self.memory_bytes,
            "memory_bytes_per_sandbox": self.sandbox_memory,
            "file_bytes": self.file_bytes,
            "scratch_bytes_per_submission": self.scratch_bytes,
            "processes": self.processes,
        }
