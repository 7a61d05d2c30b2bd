"""JupyterHub's configuration for the course on this machine (``jupyterhub -f`` this file).

``python -m hub.run start`` writes the settings this file reads (``settings.json`` in
the hub's state folder, named by ``JAZZ_HUB_SETTINGS``) and starts JupyterHub as root
from the state folder, where its database and cookie secret live.

- Logins: PAM (``PAMAuthenticator``), i.e. the Unix accounts' own passwords, for the
  course's users only (``allowed_users``). No test-only authenticator exists here: the
  browser test logs in with the passwords of the accounts it made.
- Servers: :class:`hub.spawner.LimitedSpawner`, one process per user as that user,
  JupyterLab by default, with memory, CPU and process limits held by cgroups.
- Proxy: configurable-http-proxy on 127.0.0.1 (npm, ``hub/node_modules``), stopped
  with the hub.
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 - defined by traitlets when it loads a config file

settings = json.loads(Path(os.environ["JAZZ_HUB_SETTINGS"]).read_text())
state = Path(settings["state"])

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.ConfigurableHTTPProxy.should_start = True

c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no systemd-logind here; a session needs none
c.Authenticator.allowed_users = set(settings["instructors"]) | set(settings["learners"])
c.Authenticator.admin_users = set()

c.JupyterHub.spawner_class = "hub.spawner.LimitedSpawner"
c.Spawner.cmd = [settings["singleuser"]]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.mem_limit = settings["memory"]
c.Spawner.cpu_limit = settings["cpus"]
c.LimitedSpawner.pids_limit = settings["processes"]
c.LimitedSpawner.instructors = dict.fromkeys(settings["instructors"], True)
c.LimitedSpawner.role_config_paths = settings["config_paths"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# What the servers and their kernels get of the hub's environment: no PYTHONPATH (the
# hub's own is the repository's; learners import the installed package).
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.environment = settings["environment"]
c.LimitedSpawner.cgroup_folder = settings["cgroup_folder"]
