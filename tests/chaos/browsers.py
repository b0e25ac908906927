"""Simulated browsers for the chaos suite: a cookie jar, a clock, an address.

A ``SimBrowser`` is one browser of one person: its cookies expire on its own
timeline (``wait`` moves that timeline; every request tells the server where
it stands, see server_clock.py), it has its own client address (sent as
X-Forwarded-For, which the chaos servers trust as their proxy's) and its own
User-Agent, and each request goes to one of the deployment's app servers, as
a load balancer would send it. ``send`` returns a ``Reply`` without touching
the jar, so a scenario can lose a response (never ``take`` it) or deliver it
late; ``request`` is ``send`` then ``take``.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from tests.chaos.server_clock import HEADER as CLOCK_HEADER
from tests.live_servers import Server

ACCESS = "__Host-access_token"
REFRESH = "__Host-refresh_token"
CSRF = "__Host-csrftoken"
REUSED_TEXT = "used from somewhere else"


@dataclass
class Reply:
    status: int
    location: str
    body: bytes
    set_cookies: list[str]

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    @property
    def code(self) -> str:
        try:
            return str(json.loads(self.body).get("code", ""))
        except (ValueError, AttributeError):
            return ""


@dataclass
class Jar:
    """Cookies and when each expires (seconds on the browser's timeline)."""

    values: dict[str, str] = field(default_factory=dict)
    expires: dict[str, float] = field(default_factory=dict)

    def live(self, at: float) -> dict[str, str]:
        return {name: value for name, value in self.values.items() if self.expires.get(name, math.inf) > at}

    def take(self, headers: list[str], at: float) -> None:
        for header in headers:
            for name, morsel in SimpleCookie(header).items():
                max_age = morsel["max-age"]
                if morsel.value == "" or max_age == "0":
                    self.values.pop(name, None)
                    self.expires.pop(name, None)
                    continue
                self.values[name] = morsel.value
                self.expires[name] = at + int(max_age) if max_age else math.inf

    def copy(self) -> Jar:
        return Jar(dict(self.values), dict(self.expires))


class SimBrowser:
    def __init__(
        self, servers: list[Server], *, address: str, agent: str, skews: dict[int, float] | None = None
    ) -> None:
        self.servers = servers
        self.address = address
        self.agent = agent
        # Seconds a server's clock runs ahead of the others (by port), for the skew scenario.
        self.skews = skews or {}
        self.jar = Jar()
        self.shift = 0.0
        self._turn = 0

    def now(self) -> float:
        return time.time() + self.shift

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass on this browser's timeline, at once."""
        self.shift += seconds

    def next_server(self) -> Server:
        self._turn += 1
        return self.servers[self._turn % len(self.servers)]

    def send(
        self,
        method: str,
        path: str,
        *,
        server: Server | None = None,
        cookies: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Reply:
        """One request with the jar's live cookies (or ``cookies``); the jar is untouched."""
        server = server or self.next_server()
        sent = cookies if cookies is not None else self.jar.live(self.now())
        headers = {
            "Host": server.host,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": self.address,
            "User-Agent": self.agent,
            CLOCK_HEADER: repr(self.shift + self.skews.get(server.port, 0.0)),
        }
        body = None
        if form is not None:
            body, headers["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
        if method != "GET":
            headers["Origin"] = f"https://{server.host}"
            headers["Referer"] = f"https://{server.host}/"
            if CSRF in sent:
                headers["X-CSRFToken"] = sent[CSRF]
        if sent:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in sent.items())
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            payload = raw.read()
        finally:
            conn.close()
        return Reply(
            raw.status, raw.headers.get("Location", ""), payload, raw.headers.get_all("Set-Cookie") or []
        )

    def take(self, reply: Reply) -> Reply:
        """The reply's cookies arrive now (a late reply overwrites newer ones, as in a browser)."""
        self.jar.take(reply.set_cookies, self.now())
        return reply

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        return self.take(self.send(method, path, **kwargs))

    def log_in(self, username: str, password: str) -> None:
        page = self.request("GET", "/accounts/login/")
        assert page.status == 200, page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        form = {"username": username, "password": password, "csrfmiddlewaretoken": token, "remember": "on"}
        reply = self.request("POST", "/accounts/login/", form=form)
        assert reply.status == 302, reply.text
        assert {ACCESS, REFRESH} <= self.jar.values.keys(), reply.set_cookies

    def needs_refresh(self) -> bool:
        """The next page load makes the server rotate: no live access cookie, a refresh one."""
        live = self.jar.live(self.now())
        return ACCESS not in live and REFRESH in live

    def session_id(self) -> str:
        """The device session named in the refresh cookie (read, not verified: a test's view)."""
        payload = self.jar.values[REFRESH].split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sid"]


class Tally:
    """Counts per scenario, from many threads."""

    COLUMNS = ("refresh events", "requests", "false logouts", "errors", "thefts", "detected", "told why")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, Counter[str]] = {}
        self.failures: list[str] = []

    def add(self, scenario: str, column: str, amount: int = 1) -> None:
        with self._lock:
            self.counts.setdefault(scenario, Counter())[column] += amount

    def fail(self, scenario: str, what: str) -> None:
        with self._lock:
            # A few examples of each scenario's failures, for the report.
            if sum(failure.startswith(scenario + ": ") for failure in self.failures) < 3:
                self.failures.append(f"{scenario}: {what}")

    def of(self, scenario: str) -> Counter[str]:
        return self.counts.get(scenario, Counter())

    def total(self, column: str) -> int:
        return sum(counts[column] for counts in self.counts.values())

    def table(self) -> str:
        width = max([len("scenario"), *map(len, self.counts)])
        head = "scenario".ljust(width) + "".join(f" | {c:>14}" for c in self.COLUMNS)
        lines = [head, "-" * len(head)]
        for name in sorted(self.counts):
            lines.append(name.ljust(width) + "".join(f" | {self.counts[name][c]:>14}" for c in self.COLUMNS))
        lines.append("-" * len(head))
        lines.append("total".ljust(width) + "".join(f" | {self.total(c):>14}" for c in self.COLUMNS))
        return "\n".join(lines)
