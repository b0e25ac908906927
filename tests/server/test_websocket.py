"""WebSockets under a real ASGI server (uvicorn), signed in by the cookies,
closed across processes (channels_redis) when the session ends.

The deployment's gunicorn signs the browser in; the socket is opened on a
uvicorn server of the same deployment; the revocation happens in a third
process (``manage.py shell``). The close latency, from just before the
revocation to the close frame's arrival, is printed (run with -s).
"""

from __future__ import annotations

import sys
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.live_servers import Browser, Deployment, deployment, free_port, listening, spawn

pytestmark = pytest.mark.server

PASSWORD = "a websocket test password"
CLOSE_CODE = 4401
# Ports of our own: "listening" must mean our uvicorn, not another run's server.
ASGI_PORTS = range(18750, 18770)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("websocket")
    with deployment(tmp, "websocket", users={"alice": PASSWORD, "bob": PASSWORD}) as started:
        port = free_port(ports=ASGI_PORTS)
        asgi = spawn(
            [sys.executable, "-m", "uvicorn", "authproject.asgi:application", "--host", "127.0.0.1"]
            + ["--port", str(port), "--ws", "websockets-sansio", "--lifespan", "off", "--no-access-log"],
            port=port,
            env=started.env,
            log=tmp / "uvicorn.log",
            ready=lambda server: "Uvicorn running" in server.output() and listening(server.port),
        )
        try:
            yield started, asgi
        finally:
            asgi.stop()


def signed_in(site, username: str = "alice") -> dict[str, str]:
    deployment_, _ = site
    browser = Browser(deployment_.first)
    browser.log_in(username, PASSWORD)
    return browser.cookies


def open_socket(site, cookies: dict[str, str], *, origin: str | None = None) -> ClientConnection:
    _, asgi = site
    headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
    headers["Origin"] = origin or f"https://{asgi.host}"
    return connect(f"ws://{asgi.host}/ws/whoami/", additional_headers=headers, open_timeout=10)


def revoke(deployment_: Deployment, code: str) -> float:
    """Run ``code`` in a process of its own; the wall-clock time it printed just before."""
    # A server that revokes is warm: modules imported, connections open.
    warm = (
        "from asgiref.sync import async_to_sync\nfrom channels.layers import get_channel_layer\n"
        "async_to_sync(get_channel_layer().group_send)('tokens.warm', {'type': 'tokens.warm'})\n"
    )
    out = deployment_.manage(
        "shell",
        "-c",
        f"import time\nfrom tokens_app import flows\n{warm}{code}\n"
        "print('revocation took', time.time() - started, 'at', started)",
    )
    print(f"\n{out.strip().splitlines()[-1]}")
    return float(out.rsplit("at ", 1)[1])


class CloseWatcher(threading.Thread):
    """Blocks in recv() until the server closes the socket; notes when."""

    def __init__(self, socket: ClientConnection) -> None:
        super().__init__(daemon=True)
        self.socket, self.closed_at, self.code = socket, None, None

    def run(self) -> None:
        try:
            while True:
                self.socket.recv()
        except ConnectionClosed as closed:
            self.closed_at = time.time()
            self.code = closed.rcvd.code if closed.rcvd else None


def test_a_socket_signed_in_by_the_cookies_knows_its_user(site):
    with open_socket(site, signed_in(site)) as socket:
        assert socket.recv(timeout=10) == '{"username": "alice"}'
        socket.send('"ping"')
        assert socket.recv(timeout=10) == '"pong"'


def test_the_refresh_cookie_signs_in_a_socket_whose_access_token_has_expired(site):
    cookies = signed_in(site)
    del cookies["__Host-access_token"]  # what the browser sends once it has expired

    with open_socket(site, cookies) as socket:
        assert socket.recv(timeout=10) == '{"username": "alice"}'


@pytest.mark.parametrize(
    "cookies", [{}, {"__Host-access_token": "forged"}, {"__Host-refresh_token": "x.y.z"}]
)
def test_a_socket_without_valid_cookies_is_refused(site, cookies):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(site, cookies)

    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://127.0.0.1.evil.example"])
def test_a_socket_from_another_origin_is_refused(site, origin):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(site, signed_in(site), origin=origin)

    assert refused.value.response.status_code == 403


def seconds_to_close(site, socket: ClientConnection, revocation: str) -> float:
    """Run ``revocation`` in another process; the delay until ``socket`` closed with 4401."""
    watcher = CloseWatcher(socket)
    watcher.start()
    started = revoke(site[0], revocation)
    watcher.join(timeout=10)
    assert watcher.code == CLOSE_CODE, site[1].output()[-4000:]
    return watcher.closed_at - started


def test_a_force_logout_closes_the_users_sockets_with_the_documented_code(site):
    with open_socket(site, signed_in(site)) as alices, open_socket(site, signed_in(site, "bob")) as bobs:
        alices.recv(timeout=10), bobs.recv(timeout=10)

        latency = seconds_to_close(
            site,
            alices,
            "from django.contrib.auth import get_user_model\n"
            "user = get_user_model().objects.get(username='alice')\n"
            "started = time.time()\nflows.force_logout([user])",
        )

        print(f"\nwebsocket: closed {latency * 1000:.1f} ms after the force logout began")
        assert latency < 0.5
        bobs.send('"ping"')
        assert bobs.recv(timeout=10) == '"pong"'


def test_ending_one_device_closes_its_socket_only(site):
    first, second = signed_in(site), signed_in(site)
    with open_socket(site, first) as ended, open_socket(site, second) as kept:
        ended.recv(timeout=10), kept.recv(timeout=10)

        latency = seconds_to_close(
            site,
            ended,
            "from tokens_app.models import LoginSession\nfrom tokens_app.tokens import verify_access\n"
            f"sid = verify_access({first['__Host-access_token']!r}).sid\n"
            "session = LoginSession.objects.get(pk=sid)\nstarted = time.time()\n"
            "flows.revocation.revoke_session(session, reason='logout_device')",
        )

        print(f"\nwebsocket: device closed {latency * 1000:.1f} ms after its session ended")
        assert latency < 0.5
        kept.send('"ping"')
        assert kept.recv(timeout=10) == '"pong"'
