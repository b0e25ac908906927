"""The thieves of the chaos suite: a copied refresh token used from another
client (another network and User-Agent), and what must follow: the thief
refused, the session ended as reuse with its audit row (checked in the
database after the run, runner.py), the victim told why on its next page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.chaos.browsers import ACCESS, REUSED_TEXT, Reply, SimBrowser
from tests.chaos.scenarios import ACCESS_LIFETIME, GRACE, Run, page


@dataclass
class Theft:
    """One theft, for the database checks after the run."""

    scenario: str
    session_id: str
    thief_refused: bool


def _thief_refresh(run: Run, thief: SimBrowser, stolen: dict[str, str]) -> Reply:
    """The thief puts the copied cookies in its own browser and refreshes."""
    run.count("thefts")
    thief.jar.values = dict(stolen)
    thief.jar.expires = {}
    return thief.request("POST", "/api/auth/refresh/")


def _victim_told_why(run: Run) -> None:
    """The victim's next page load lands on the sign-in page saying why
    (at once, or once the access token it holds has run out)."""
    victim = run.browser
    reply = victim.request("GET", "/")
    if reply.status == 200:
        run.expire_access()
        reply = victim.request("GET", "/")
    if reply.status == 302 and reply.location.startswith("/accounts/login/"):
        login = victim.request("GET", reply.location)
        if REUSED_TEXT in login.text:
            run.count("told why")
            return
    run.tally.fail(run.name, f"victim not told: {reply.status} {reply.location}")


def _stolen_cookies(victim: SimBrowser) -> dict[str, str]:
    live = victim.jar.live(victim.now())
    return {name: value for name, value in live.items() if name != ACCESS}


def theft_after_victim_moved_on(delay: float) -> Callable[[Run, SimBrowser], Theft]:
    """A copied refresh token, used from another client ``delay`` seconds
    after the victim rotated it and went on browsing (a page a minute,
    refreshing whenever the access token runs out)."""

    def scenario(run: Run, thief: SimBrowser) -> Theft:
        stolen = _stolen_cookies(run.browser)
        session_id = run.browser.session_id()
        run.expire_access()
        page(run)
        rotated = run.browser.shift
        page(run)
        while run.browser.shift + 60 < rotated + delay:
            run.browser.wait(60)
            page(run)
        thief.shift = rotated + delay
        refused = _thief_refresh(run, thief, stolen).code == "token_reused"
        _victim_told_why(run)
        return Theft(run.name, session_id, refused)

    return scenario


def theft_within_grace(run: Run, thief: SimBrowser) -> Theft:
    """A copied refresh token replayed from another client within the grace
    window of the victim's rotation."""
    stolen = _stolen_cookies(run.browser)
    session_id = run.browser.session_id()
    run.expire_access()
    page(run)
    thief.shift = run.browser.shift + run.rng.uniform(0.5, GRACE - 2)
    refused = _thief_refresh(run, thief, stolen).code == "token_reused"
    _victim_told_why(run)
    return Theft(run.name, session_id, refused)


def theft_before_victim(run: Run, thief: SimBrowser) -> Theft:
    """The thief refreshes first and uses the pair; the victim's token comes back."""
    stolen = _stolen_cookies(run.browser)
    session_id = run.browser.session_id()
    thief.shift = run.browser.shift + ACCESS_LIFETIME + 1
    first = _thief_refresh(run, thief, stolen)
    used = thief.request("GET", "/api/auth/me/")
    if first.status != 200 or used.status != 200:
        run.tally.fail(run.name, f"thief's own refresh: {first.status} {used.status}")
    run.browser.wait(ACCESS_LIFETIME + run.rng.uniform(2, 600))
    _victim_told_why(run)
    thief.wait(ACCESS_LIFETIME)
    refused = thief.request("POST", "/api/auth/refresh/").status == 401
    return Theft(run.name, session_id, refused)


def theft_while_the_response_is_lost(run: Run, thief: SimBrowser) -> Theft:
    """The victim's refresh response is lost; 30 s later, before the victim
    retries, a thief replays the copied token from another client. The
    lost-response tolerance is for the client that rotated, not for a thief."""
    stolen = _stolen_cookies(run.browser)
    session_id = run.browser.session_id()
    run.expire_access()
    page(run, take=False)
    thief.shift = run.browser.shift + 30
    refused = _thief_refresh(run, thief, stolen).code == "token_reused"
    run.browser.wait(60)
    _victim_told_why(run)
    return Theft(run.name, session_id, refused)


THEFTS: dict[str, Callable[[Run, SimBrowser], Theft]] = {
    "theft: copied token, 1 s after the victim moved on": theft_after_victim_moved_on(1),
    "theft: copied token, 10 min after the victim moved on": theft_after_victim_moved_on(600),
    "theft: replayed within the grace window": theft_within_grace,
    "theft: thief first, victim's token comes back": theft_before_victim,
    "theft: replayed while the victim's response is lost": theft_while_the_response_is_lost,
}
