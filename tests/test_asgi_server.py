"""The site under a real ASGI server (uvicorn), on PostgreSQL + Redis: pages,
the DRF API, the ninja API and async views answer from the same cookies or a
native app's bearer token, and an administrator's force logout reaches every
one of them at once (immediate revocation, Redis's client-side tracking).

Run with DATABASE_URL=postgres://... and REDIS_URL=redis://... exported
(``pytest -m server``); tests/server_leg.py reports or fails it otherwise.
"""

from __future__ import annotations

import sys

import pytest

from tests.live_servers import Browser, deployment, free_port, spawn

pytestmark = pytest.mark.server

PASSWORD = "live-password-3f9a1c77"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("asgi")
    with deployment(tmp_path, "asgi", users={"alice": PASSWORD}, servers=0) as deployed:
        port = free_port()
        server = spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "authproject.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-access-log",
            ],
            port=port,
            env={**deployed.env, "DJANGO_SETTINGS_MODULE": "tests.settings_asgi"},
            log=tmp_path / "uvicorn.log",
            ready=lambda server: Browser(server).get("/healthz/").status == 200,
        )
        deployed.started.append(server)  # stopped with the deployment
        yield deployed, server


def app_sign_in(server) -> str:
    app = Browser(server)
    response = app.post(
        "/api/auth/app/login/", payload={"username": "alice", "password": PASSWORD, "device": "Live app"}
    )
    assert response.status == 200, response.text
    assert not {"__Host-access_token", "__Host-refresh_token"} & response.set_cookies.keys()
    return response.json()["access"]


COOKIE_SURFACES = {
    "page": "/",
    "drf": "/api/auth/me/",
    "ninja sync": "/ninja/me",
    "ninja async": "/ninja/async/me",
    "async view": "/async/whoami/",
}
BEARER_SURFACES = {"drf bearer": "/api/auth/me/", "ninja async bearer": "/ninja/async/me"}


def test_every_surface_answers_under_uvicorn_and_a_force_logout_reaches_each(site):
    deployed, server = site
    signed_in = Browser(server)
    signed_in.log_in("alice", PASSWORD)
    cookies = dict(signed_in.cookies)  # the same cookies on every call, as a copied token would be
    bearer = {"Authorization": f"Bearer {app_sign_in(server)}"}

    def calls():
        for name, path in COOKIE_SURFACES.items():
            yield name, Browser(server, dict(cookies)).get(path)
        for name, path in BEARER_SURFACES.items():
            yield name, Browser(server).get(path, headers=bearer)

    for name, response in calls():
        assert response.status == 200, f"{name}: {response.status} {response.text[:300]}"
        assert "alice" in response.text, name

    deployed.manage("force_logout", "alice")
    for name, response in calls():
        if name == "page":
            assert response.status == 302, f"{name}: {response.status}"
            assert response.headers["Location"].startswith("/accounts/login/")
        elif name == "async view":
            assert response.json() == {"authenticated": False, "username": ""}, name
        else:
            assert response.status == 401, f"{name}: {response.status} {response.text[:300]}"
            assert response.json()["code"] == "token_revoked", name
