"""A course on this machine: JupyterHub, local Unix accounts, nbgrader's exchange.

``python -m hub.run start`` (``make hub``) creates the accounts, the exchange and the
course, and runs JupyterHub with configurable-http-proxy on 127.0.0.1; each user's
server runs as that Unix user under cgroup limits (:mod:`hub.limits`). README.md,
"Teaching a course", walks the whole path.
"""
