"""gunicorn settings for authproject: ``gunicorn -c authproject/gunicorn.conf.py``.

Every value can be changed from the environment, so one file serves every
host. Several of these servers (on one machine or many) share PostgreSQL and
Redis; nothing about a signed-in user lives in a worker's memory, so a load
balancer needs no sticky sessions.
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

# gunicorn has put the project directory (its chdir) on sys.path by now.
from authproject.logs import RedactingFormatter, redact

wsgi_app = "authproject.wsgi:application"

# GUNICORN_BIND may list several addresses, comma-separated ("unix:/run/app.sock"
# works too). PORT is what most platforms hand a web process.
bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}").split(",")

# Sync workers: every request is short (a cache look-up, a few queries at
# most). WEB_CONCURRENCY is the conventional knob; 2 x cores + 1 is gunicorn's
# rule of thumb.
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so a slow leak never takes a server down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200

# Import Django once in the master: workers fork ready to serve, and a broken
# configuration (a missing secret, a bad DATABASE_URL) stops the start instead
# of making every worker crash in a loop.
preload_app = True

# The addresses of the proxy that terminates TLS, comma-separated: only they
# may set the scheme headers gunicorn honours (wsgi.url_scheme). Django reads
# X-Forwarded-Proto itself (SECURE_PROXY_SSL_HEADER), so gunicorn must be
# reachable by the proxy alone, and the proxy must overwrite that header.
# "*" only on a private network where nothing else can connect.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/
# gunicorn.ctl): two servers on one machine would take it from each other.
# Off unless a path is given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Like the default, plus the time taken (microseconds). No cookies, no headers
# with credentials: tokens never reach the log.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'


class _Logger(Logger):
    """The access and error logs, minus the secret half of password reset links.

    /accounts/reset/<uidb64>/<token>/ carries a one-time credential in the
    path; until it is used, whoever reads the log could reset the password.
    authproject/logs.py masks it in every form Django would route (no
    trailing slash, %2F, other percent-encodings), and any JWT. The error
    log needs it too: gunicorn names the request's URI when a request fails
    outside Django ("Error handling request /accounts/reset/...").
    """

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(RedactingFormatter(self.error_fmt, self.datefmt))

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = _Logger


def post_fork(server, worker) -> None:
    # With preload_app the master imported Django; make sure no connection
    # opened there is shared by the forked workers.
    from django.core.cache import caches
    from django.db import connections

    connections.close_all()
    for cache in caches.all(initialized_only=True):
        cache.close()
