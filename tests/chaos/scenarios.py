"""The chaos scenarios: what legitimate browsers do (thieves: thefts.py),
and how each outcome counts.

Every scenario signs one browser in and plays ``rounds`` rounds of its story
against the live servers, counting into a ``Tally``:

- ``refresh events``: legitimate requests the server had to answer with a
  rotation (no live access cookie, or an explicit refresh), retries included;
- ``false logouts``: any of a legitimate browser's requests answered with
  the sign-in page or a 401 from refresh;
- ``errors``: anything else unexpected (a 5xx, a page without the user);
- ``thefts`` / ``detected`` / ``told why``: a thief's use of a copied refresh
  token; detected when the thief is refused and the session is ended
  (checked in the database after the run, with its audit row); told why
  when the victim's next page says "used from somewhere else".

Times are the server's defaults (5-minute access tokens, 10-second grace,
10-second leeway); the browsers' clocks jump (SimBrowser.wait).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.chaos.browsers import Reply, SimBrowser, Tally

ACCESS_LIFETIME = 300.0
GRACE = 10.0
LEEWAY = 10.0
LOST_RESPONSE_WINDOW = 900.0


@dataclass
class Run:
    """One scenario's browser and where its counts go."""

    name: str
    browser: SimBrowser
    username: str
    password: str
    tally: Tally
    rng: random.Random

    def count(self, column: str, amount: int = 1) -> None:
        self.tally.add(self.name, column, amount)

    def logged_out(self, what: str) -> None:
        """A false logout: counted once, then the person signs in again and goes on."""
        self.count("false logouts")
        self.tally.fail(self.name, what)
        self.browser.jar.values.clear()
        self.browser.log_in(self.username, self.password)

    def expire_access(self, extra: float = 1.0) -> None:
        """Let the access token run out (its cookie leaves the jar)."""
        self.browser.wait(ACCESS_LIFETIME + extra)


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in threads released together (tabs of one browser)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=60)
        try:
            results[index] = calls[index]()
        except Exception as exc:  # counted by the caller as an error
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _problem(run: Run, kind: str, reply: Reply | Exception) -> tuple[bool, str] | None:
    """None if ``reply`` is what a signed-in browser gets, else (a logout?, what)."""
    if isinstance(reply, Exception):
        return False, f"{kind}: {reply!r}"
    if kind == "page":
        if reply.status == 200 and f"Hello, {run.username}" in reply.text:
            return None
        to_login = reply.status == 302 and reply.location.startswith("/accounts/login/")
        return to_login, f"page {reply.status} {reply.location} {reply.text[:120]!r}"
    if reply.status == 200:
        return None
    return reply.status == 401, f"{kind} {reply.status} {reply.text[:160]!r}"


def settle(run: Run, kind: str, replies: list[Any]) -> None:
    """Count ``replies`` (sent at once by one browser): errors each, a logout once."""
    run.count("requests", len(replies))
    problems = [found for found in (_problem(run, kind, reply) for reply in replies) if found]
    for logged_out, what in problems:
        if not logged_out:
            run.count("errors")
            run.tally.fail(run.name, what)
    logouts = [what for logged_out, what in problems if logged_out]
    if logouts:
        run.logged_out(logouts[0])


def page(run: Run, *, take: bool = True, judge: bool = True, **kwargs: Any) -> Reply:
    """A legitimate page load ("/"); a silent refresh when the access cookie is gone."""
    browser = run.browser
    if browser.needs_refresh():
        run.count("refresh events")
    reply = browser.send("GET", "/", **kwargs)
    if take:
        browser.take(reply)
    if judge:
        settle(run, "page", [reply])
    return reply


def refresh(run: Run, *, take: bool = True, judge: bool = True, **kwargs: Any) -> Reply:
    """A legitimate ``POST /api/auth/refresh/`` (what a script does on a 401)."""
    run.count("refresh events")
    reply = run.browser.send("POST", "/api/auth/refresh/", **kwargs)
    if take:
        run.browser.take(reply)
    if judge:
        settle(run, "refresh", [reply])
    return reply


def _take_in_any_order(run: Run, replies: list[Any]) -> None:
    replies = list(replies)
    run.rng.shuffle(replies)
    for reply in replies:
        if isinstance(reply, Reply):
            run.browser.take(reply)


def _tabs(run: Run, count: int, **kwargs: Any) -> None:
    """``count`` tabs load at once with the same cookies; replies arrive in any order."""
    replies = at_once([lambda: page(run, take=False, judge=False, **kwargs) for _ in range(count)])
    _take_in_any_order(run, replies)
    settle(run, "page", replies)


def eight_tabs(run: Run) -> None:
    """Eight tabs of one browser load pages at once with an expired access token."""
    run.expire_access(run.rng.uniform(0, 60))
    _tabs(run, 8)
    page(run)  # the pair the tabs left in the jar works


def fan_out(run: Run) -> None:
    """A page fans out five API calls just as the access token expires: each
    gets a 401, refreshes (five refreshes at once), and retries."""
    page(run)
    run.expire_access(0.0)
    at_once([lambda: run.browser.request("GET", "/api/auth/me/") for _ in range(5)])
    run.count("requests", 5)  # 401s, as expected: what makes the script refresh
    replies = at_once([lambda: refresh(run, take=False, judge=False) for _ in range(5)])
    _take_in_any_order(run, replies)
    settle(run, "refresh", replies)
    settle(run, "me", at_once([lambda: run.browser.request("GET", "/api/auth/me/") for _ in range(5)]))


def _page_or_refresh(run: Run, *, take: bool) -> None:
    if run.rng.random() < 0.5:
        page(run, take=take)
    else:
        refresh(run, take=take)


def lost_response(delay: float) -> Callable[[Run], None]:
    """The refresh response never arrives; the browser retries with the old
    token ``delay`` seconds later (a page load or a script's refresh). One
    round in four, where both fit in the lost-response window (15 minutes),
    the retry's answer is lost too and the browser tries once more."""

    def scenario(run: Run) -> None:
        run.expire_access()
        _page_or_refresh(run, take=False)
        run.browser.wait(delay)
        if 2 * delay < LOST_RESPONSE_WINDOW and run.rng.random() < 0.25:
            _page_or_refresh(run, take=False)
            run.browser.wait(delay)
        _page_or_refresh(run, take=True)
        page(run)  # the pair is in use; the next round's refresh brings its token back

    return scenario


def laptop_wakes(run: Run) -> None:
    """Asleep past the access token and the grace window (minutes to a night,
    a day at most: 20 rounds stay within the 30-day maximum lifetime); on
    waking, one to three tabs reload at once."""
    run.browser.wait(run.rng.uniform(ACCESS_LIFETIME + GRACE + 1, 86400))
    _tabs(run, run.rng.randint(1, 3))
    page(run)


def clock_skew(run: Run) -> None:
    """Two app servers whose clocks differ by 9 s (the leeway is 10 s): tabs
    refresh on both at once, then the pair is used on each."""
    first, second = run.browser.servers[:2]
    run.browser.skews = {second.port: run.rng.choice((-1, 1)) * (LEEWAY - 1)}
    run.expire_access()
    replies = at_once(
        [
            lambda: page(run, take=False, judge=False, server=first),
            lambda: page(run, take=False, judge=False, server=second),
        ]
    )
    _take_in_any_order(run, replies)
    settle(run, "page", replies)
    page(run, server=second)
    page(run, server=first)


def delayed_response(run: Run) -> None:
    """A refresh response takes 15 s to arrive: the user clicks again at 12 s
    with the old cookies, then the late response overwrites the newer ones."""
    run.expire_access()
    late = page(run, take=False)
    run.browser.wait(12)
    page(run)
    run.browser.wait(3)
    run.browser.take(late)
    page(run)
    run.expire_access()
    page(run)  # the late pair's refresh token


LEGITIMATE: dict[str, Callable[[Run], None]] = {
    "8 tabs at expiry": eight_tabs,
    "5 parallel requests at expiry": fan_out,
    "lost response, retry after 1 s": lost_response(1),
    "lost response, retry after 30 s": lost_response(30),
    "lost response, retry after 10 min": lost_response(600),
    "laptop wakes": laptop_wakes,
    "clock skew 9 s (leeway 10 s)": clock_skew,
    "response delayed 15 s": delayed_response,
}
