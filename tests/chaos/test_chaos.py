"""No false logouts, every theft detected, under chaos.

Hundreds of simulated browsers (tests/chaos/browsers.py) play the scenarios
of tests/chaos/scenarios.py at once against two gunicorn servers on
PostgreSQL + Redis; the servers judge time on each browser's own clock, so
minutes and days pass in a run of a few minutes. The counts are printed as a
table at the end of the run and published in docs/sessions.md.
"""

from __future__ import annotations

import pytest

from tests.chaos import runner, scenarios, thefts
from tests.chaos.browsers import REFRESH, SimBrowser

pytestmark = [pytest.mark.server, pytest.mark.chaos]


def test_no_false_logouts_over_ten_thousand_refresh_events(chaos: runner.Outcome) -> None:
    tally = chaos.tally
    assert tally.total("refresh events") >= 10_000 * min(runner.scale(), 1)
    assert tally.total("false logouts") == 0, tally.failures
    assert tally.total("errors") == 0, tally.failures
    # ...and the servers agree: no legitimate session was ended, none flagged as reuse.
    assert chaos.legit_sessions_ended == []
    assert chaos.legit_reuse_rows == 0


@pytest.mark.parametrize("scenario", list(scenarios.LEGITIMATE))
def test_a_legitimate_browser_stays_signed_in(chaos: runner.Outcome, scenario: str) -> None:
    counts = chaos.tally.of(scenario)
    assert counts["refresh events"] > 0
    assert counts["false logouts"] == 0, [f for f in chaos.tally.failures if f.startswith(scenario)]
    assert counts["errors"] == 0, [f for f in chaos.tally.failures if f.startswith(scenario)]


@pytest.mark.parametrize("scenario", list(thefts.THEFTS))
def test_every_theft_is_detected_and_the_victim_told_why(chaos: runner.Outcome, scenario: str) -> None:
    counts = chaos.tally.of(scenario)
    assert counts["thefts"] > 0
    # Detected: the thief refused, the session ended as reuse, an audit row naming it.
    assert counts["detected"] == counts["thefts"], [f for f in chaos.tally.failures if f.startswith(scenario)]
    assert counts["told why"] == counts["thefts"], [f for f in chaos.tally.failures if f.startswith(scenario)]
    assert counts["false logouts"] == counts["errors"] == 0, chaos.tally.failures


def test_the_servers_judge_time_on_each_browsers_own_clock(chaos: runner.Outcome) -> None:
    """The control: a clock the servers ignored would turn every "minutes
    later" into a retry within milliseconds, and the suite would pass. The
    cookies are sent as they are (a browser keeps them, the server decides)."""
    browser = SimBrowser(chaos.deployment.started, address="2001:db8:c::1", agent="Control/1")
    browser.log_in(runner.CONTROL_USER, runner.PASSWORD)
    cookies = dict(browser.jar.values)
    fresh = browser.send("GET", "/", cookies=cookies)
    assert not any(header.startswith(REFRESH + "=") for header in fresh.set_cookies)  # nothing to renew yet

    browser.wait(scenarios.ACCESS_LIFETIME + scenarios.LEEWAY + 1)
    renewed = browser.take(browser.send("GET", "/", cookies=cookies))
    assert renewed.status == 200
    assert any(header.startswith(REFRESH + "=") for header in renewed.set_cookies)  # expired: rotated

    browser.wait(31 * 86400)  # past the 30-day maximum lifetime, on this browser's clock only
    ended = browser.take(browser.send("GET", "/", cookies=dict(browser.jar.values)))
    assert (ended.status, ended.location) == (302, "/accounts/login/?next=/")
    assert "Please sign in again" in browser.request("GET", ended.location).text
