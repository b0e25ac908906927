"""Follow the site's signed revocation feed (feed.py) from another service.

Standard library only; used through ``tokens_app.verifier``. The feed lists,
since a cursor, the users whose sessions all ended (with the token_version
now required) and the device sessions that ended. Entries are kept for the
feed's ``window`` (the access lifetime plus leeway): by then every token they
could refuse has expired anyway. Applying an entry twice changes nothing, so
the site may repeat entries across pages and polls.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any


class RevocationsUnavailable(Exception):
    """The revocation state is unknown (feed or Redis unreachable, or stale)."""


class FeedRevocations:
    """Revocations as seen in the feed, polled every ``poll_interval`` seconds.

    Call ``start()`` to poll from a background thread; without it the first
    request after each interval polls inline. If no poll has succeeded for
    ``stale_after`` seconds (3 intervals by default), ``is_revoked`` raises
    RevocationsUnavailable: a service cut off from the feed answers 503
    rather than honour tokens it can no longer check.
    """

    def __init__(
        self,
        url: str,
        *,
        credential: str,
        poll_interval: float = 5.0,
        stale_after: float | None = None,
        timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"The feed URL must be http(s): {url!r}")
        self.url, self.credential, self.timeout = url, credential, timeout
        self.poll_interval = poll_interval
        self.stale_after = 3 * poll_interval if stale_after is None else stale_after
        self._clock = clock
        self._verify: Callable[[str], dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._cursor: str | None = None
        self._users: dict[str, tuple[int, float]] = {}  # sub -> (required ver, event time)
        self._sessions: dict[str, float] = {}  # sid -> event time
        self._last_success: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def bind(self, verify_document: Callable[[str], dict[str, Any]]) -> None:
        """Set how a feed page's signature is checked (AccessVerifier does this)."""
        self._verify = verify_document

    def start(self) -> None:
        self.poll_once()
        self._thread = threading.Thread(target=self._run, name="revocation-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.poll_once()
            except RevocationsUnavailable:
                pass  # retried next interval; is_revoked refuses once stale

    def poll_once(self) -> None:
        """Read the feed from our cursor to its end, page by page."""
        while True:
            page = self._fetch(self._cursor)
            self._apply(page)
            if not page.get("more"):
                break
        self._last_success = self._clock()

    def is_revoked(self, claims: dict[str, Any]) -> bool:
        now = self._clock()
        if self._thread is None and (
            self._last_success is None or now - self._last_success >= self.poll_interval
        ):
            try:
                self.poll_once()
            except RevocationsUnavailable:
                pass
        if self._last_success is None or now - self._last_success > self.stale_after:
            raise RevocationsUnavailable("the revocation feed has not answered recently")
        required = self._users.get(claims["sub"])
        return claims["sid"] in self._sessions or (required is not None and claims["ver"] < required[0])

    def _fetch(self, cursor: str | None) -> dict[str, Any]:
        if self._verify is None:
            raise RuntimeError("FeedRevocations must be passed to an AccessVerifier first.")
        url = self.url if cursor is None else f"{self.url}?{urllib.parse.urlencode({'cursor': cursor})}"
        request = urllib.request.Request(  # noqa: S310 (http(s) only, checked in __init__)
            url, headers={"Authorization": f"Bearer {self.credential}", "Accept": "application/jwt"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                document = response.read(1 << 20).decode("ascii")
        except (OSError, urllib.error.URLError, UnicodeDecodeError) as exc:
            raise RevocationsUnavailable(f"feed: {exc}") from None
        try:
            return self._verify(document)
        except Exception as exc:  # a page we cannot trust is no page at all
            raise RevocationsUnavailable(f"feed page refused: {exc}") from None

    def _apply(self, page: dict[str, Any]) -> None:
        try:
            users = [(str(u["sub"]), int(u["ver"]), float(u["at"])) for u in page.get("users", [])]
            sessions = [(str(s["sid"]), float(s["at"])) for s in page.get("sessions", [])]
            window = float(page["window"])
            cursor = str(page["cursor"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RevocationsUnavailable(f"feed page malformed: {json.dumps(str(exc))}") from None
        horizon = time.time() - window
        with self._lock:
            for sub, ver, at in users:
                known = self._users.get(sub)
                if known is None or known[0] < ver:
                    self._users[sub] = (ver, at)
            for sid, at in sessions:
                self._sessions[sid] = at
            # Tokens older than the window have expired: their entries can go.
            self._users = {k: v for k, v in self._users.items() if v[1] >= horizon}
            self._sessions = {k: v for k, v in self._sessions.items() if v >= horizon}
            self._cursor = cursor
