"""Plays every chaos scenario at once against a deployment, then reads the
database for what the servers did (sessions ended, audit rows).

``TOKENS_CHAOS_SCALE`` (default 1) multiplies the rounds: 1 gives more than
10,000 legitimate refresh events; 0.05 is a quick try while developing.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg

from tests.chaos import scenarios, thefts
from tests.chaos.browsers import SimBrowser, Tally
from tests.live_servers import Deployment

PASSWORD = "chaos monkey passphrase 11"
# Rounds of each legitimate scenario at scale 1, and how many browsers share them.
ROUNDS = {
    "8 tabs at expiry": 640,
    "5 parallel requests at expiry": 150,
    "lost response, retry after 1 s": 500,
    "lost response, retry after 30 s": 500,
    "lost response, retry after 10 min": 500,
    "laptop wakes": 300,
    "clock skew 9 s (leeway 10 s)": 300,
    "response delayed 15 s": 250,
}
ROUNDS_PER_BROWSER = 20
THEFTS_PER_KIND = 25
CLIENT_THREADS = 8


def scale() -> float:
    return float(os.environ.get("TOKENS_CHAOS_SCALE", "1"))


@dataclass
class Job:
    scenario: str
    username: str
    rounds: int = 0  # 0: a theft


@dataclass
class Outcome:
    tally: Tally
    deployment: Deployment
    legit_sessions_ended: list[tuple[str, str]] = field(default_factory=list)
    legit_reuse_rows: int = 0
    # Retired tokens answered within the grace window: tabs did race.
    grace_rows: int = 0


def plan() -> list[Job]:
    jobs: list[Job] = []
    for name, rounds in ROUNDS.items():
        rounds = max(1, round(rounds * scale()))
        while rounds > 0:
            jobs.append(Job(name, f"legit{len(jobs)}", min(rounds, ROUNDS_PER_BROWSER)))
            rounds -= ROUNDS_PER_BROWSER
    per_kind = max(2, round(THEFTS_PER_KIND * min(scale(), 1)))
    for name in thefts.THEFTS:
        jobs.extend(Job(name, f"victim{len(jobs)}_{i}") for i in range(per_kind))
    return jobs


CONTROL_USER = "control"


def users(jobs: list[Job]) -> dict[str, str]:
    """Everyone the jobs sign in, and the control test's user."""
    return {CONTROL_USER: PASSWORD, **{job.username: PASSWORD for job in jobs}}


def _address(number: int, *, thief: bool = False) -> str:
    # Documentation prefix (2001:db8::/32), one /64 each: only ever a header value.
    return f"2001:db8:{0xBEEF if thief else 0xA:x}:{number:x}::1"


def _play(deployment: Deployment, job: Job, number: int, tally: Tally) -> thefts.Theft | None:
    rng = random.Random(number)
    browser = SimBrowser(deployment.started, address=_address(number), agent=f"ChaosBrowser/{number % 7}")
    run = scenarios.Run(job.scenario, browser, job.username, PASSWORD, tally, rng)
    try:
        browser.log_in(job.username, PASSWORD)
        if job.rounds:
            for _ in range(job.rounds):
                scenarios.LEGITIMATE[job.scenario](run)
            return None
        thief = SimBrowser(deployment.started, address=_address(number, thief=True), agent="ThiefBrowser/1")
        return thefts.THEFTS[job.scenario](run, thief)
    except Exception as exc:  # a crash of the client counts, and the run goes on
        tally.add(job.scenario, "errors")
        tally.fail(job.scenario, f"{type(exc).__name__}: {exc}"[:300])
        return None


def play(deployment: Deployment, jobs: list[Job]) -> Outcome:
    outcome = Outcome(Tally(), deployment)
    # Interleaved, so that every scenario runs alongside the others.
    order = list(enumerate(jobs))
    random.Random(0).shuffle(order)
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        played = list(pool.map(lambda item: _play(deployment, item[1], item[0], outcome.tally), order))
    with psycopg.connect(deployment.env["DATABASE_URL"]) as conn:
        for theft in filter(None, played):
            _check_theft(conn, theft, outcome.tally)
        _check_legit(conn, outcome)
    return outcome


def _check_theft(conn: psycopg.Connection, theft: thefts.Theft, tally: Tally) -> None:
    (reason,) = conn.execute(
        "SELECT revoked_reason FROM tokens_app_loginsession WHERE id = %s", (theft.session_id,)
    ).fetchone()
    (rows,) = conn.execute(
        "SELECT count(*) FROM tokens_app_auditevent"
        " WHERE kind = 'refresh_reused' AND detail->>'session' = %s",
        (theft.session_id,),
    ).fetchone()
    if theft.thief_refused and reason == "refresh_reused" and rows >= 1:
        tally.add(theft.scenario, "detected")
    else:
        tally.fail(
            theft.scenario, f"undetected: thief refused={theft.thief_refused} reason={reason!r} rows={rows}"
        )


def _check_legit(conn: psycopg.Connection, outcome: Outcome) -> None:
    outcome.legit_sessions_ended = conn.execute(
        "SELECT u.username, s.revoked_reason FROM tokens_app_loginsession s"
        " JOIN tokens_app_user u ON u.id = s.user_id"
        " WHERE u.username LIKE 'legit%%' AND s.revoked_at IS NOT NULL"
    ).fetchall()
    (outcome.legit_reuse_rows,) = conn.execute(
        "SELECT count(*) FROM tokens_app_auditevent a JOIN tokens_app_user u ON u.id = a.user_id"
        " WHERE a.kind = 'refresh_reused' AND u.username LIKE 'legit%%'"
    ).fetchone()
    (outcome.grace_rows,) = conn.execute(
        "SELECT count(*) FROM tokens_app_auditevent WHERE kind = 'refresh_grace'"
    ).fetchone()
