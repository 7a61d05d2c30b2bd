"""The hub's spawner: JupyterHub's ``LocalProcessSpawner`` with limits and roles.

Each server runs as its Unix user (the hub runs as root), in that user's cgroups
(:mod:`hub.limits`): ``mem_limit``, ``cpu_limit`` and :attr:`LimitedSpawner.pids_limit`
hold for the server and every kernel it starts together. Its environment names the
role's Jupyter configuration (``JUPYTER_CONFIG_PATH``, :mod:`hub.course`). When the
server stops, whatever is left in its groups (kernels, their children) is ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Dict, Integer, Unicode

from hub import limits


class LimitedSpawner(LocalProcessSpawner):  # type: ignore[misc]
    """A local process per user, held by cgroup limits, configured by role."""

    pids_limit = Integer(512, config=True, help="Processes and threads of a user's server.")
    role_config_paths = Dict(
        value_trait=Unicode(),
        config=True,
        help="JUPYTER_CONFIG_PATH of each role ('instructor', 'learner').",
    )
    cgroup_folder = Unicode(
        limits.FOLDER, config=True, help="This hub's folder in each cgroup hierarchy."
    )
    instructors = Dict(
        config=True, help="User names of the instructors (keys; values are ignored)."
    )

    @property
    def groups(self) -> limits.UserGroups:
        """This hub's cgroups."""
        return limits.UserGroups(self.cgroup_folder)

    @property
    def role(self) -> str:
        """``"instructor"`` or ``"learner"``."""
        return "instructor" if self.user.name in self.instructors else "learner"

    def user_limits(self) -> limits.Limits:
        """The limits of this user's groups, from ``mem_limit`` and ``cpu_limit``."""
        default = limits.Limits()
        return limits.Limits(
            memory_bytes=int(self.mem_limit or default.memory_bytes),
            cpus=float(self.cpu_limit or default.cpus),
            processes=int(self.pids_limit),
        )

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        """Join the user's groups (still root), then become the user."""
        join = self.groups.joiner(name)
        become = super().make_preexec_fn(name)

        def preexec() -> None:
            join()
            become()

        return preexec

    def get_env(self) -> dict[str, Any]:
        """The server's environment, with its role's Jupyter configuration."""
        env = super().get_env()
        path = self.role_config_paths.get(self.role)
        if path:
            env["JUPYTER_CONFIG_PATH"] = path
        return env

    async def start(self) -> Any:
        """Make the user's groups with their limits, then start the server in them."""
        self.groups.end(self.user.name)  # a previous server's leftovers
        self.groups.prepare(self.user.name, self.user_limits())
        return await super().start()

    async def stop(self, now: bool = False) -> None:
        """Stop the server, then everything left in its groups."""
        await super().stop(now=now)
        self.groups.end(self.user.name, grace=2.0 if now else 5.0)
