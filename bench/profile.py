"""Per-request CPU cost of each GET arm, in process, without the network (CPU time,
so other load on the machine matters less).

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.profile SEED_DIR [ARM] [--pyinstrument]

SEED_DIR is a directory bench/seed.py wrote (``run.py --keep`` leaves one).
Calls the WSGI handler directly, so the figures are free of wrk, sockets and
the other arms; ``--pyinstrument`` profiles the one ARM given.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import django

PATHS = {
    "floor": "/bench/floor/",
    "ours": "/bench/ours/",
    "django": "/bench/django/",
    "drf": "/bench/api/",
    "drf_noauth": "/bench/api-noauth/",
    "sjwt": "/bench/sjwt/",
    "sjwt_stateless": "/bench/sjwt-stateless/",
    "refresh": "/api/auth/refresh/",
}


def main() -> None:
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    seed = json.loads((Path(sys.argv[1]) / "seed.json").read_text())
    arms = [a for a in sys.argv[2:] if not a.startswith("--")] or list(PATHS)
    cookie = "; ".join(f"{k}={v}" for k, v in seed["cookies"].items())
    handler = WSGIHandler()

    tokens = iter((Path(sys.argv[1]) / "refresh_tokens.txt").read_text().split())
    csrf = seed["csrf"]

    def call(path: str) -> None:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "18300",
            "HTTP_HOST": "127.0.0.1:18300",
            "HTTP_COOKIE": cookie,
            "HTTP_ACCEPT": "application/json",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
        }
        if path in (PATHS["sjwt"], PATHS["sjwt_stateless"]):
            environ["HTTP_AUTHORIZATION"] = f"Bearer {seed['sjwt_access']}"
        if path == PATHS["refresh"]:
            # A fresh, current refresh token each time, as the refresh arm sends.
            environ["REQUEST_METHOD"] = "POST"
            environ["HTTP_COOKIE"] = f"{seed['csrf_cookie']}={csrf}; {seed['refresh_cookie']}={next(tokens)}"
            environ["HTTP_X_CSRFTOKEN"] = csrf
        response = handler(environ, lambda status, headers: None)
        body = b"".join(response)
        response.close()
        assert b'"items"' in body or b'"access_expires"' in body, body[:200]

    if "--pyinstrument" in sys.argv:
        from pyinstrument import Profiler

        path = PATHS[arms[0]]
        for _ in range(50):
            call(path)
        profiler = Profiler(interval=0.0001)
        profiler.start()
        for _ in range(500):
            call(path)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return

    for arm in arms:
        path = PATHS[arm]
        for _ in range(50):
            call(path)
        best = float("inf")
        for _ in range(5):
            start = time.process_time()
            for _ in range(300):
                call(path)
            best = min(best, (time.process_time() - start) / 300)
        print(f"{arm:<11} {best * 1e6:8.1f} us/request")


if __name__ == "__main__":
    main()
