"""The benchmark: one command, every arm, one run.

    python -m bench.run            # or: make bench
    python -m bench.run --quick    # a smoke run: a few seconds per arm

Starts the app servers (gunicorn, 2 sync workers; uvicorn for the ASGI arm)
on the embedded default (SQLite + local memory cache) and, when DATABASE_URL
and REDIS_URL are set, on PostgreSQL + Redis as well; drives every arm with
wrk on loopback, interleaved round-robin after a warm-up; counts SQL and Redis
commands per request; measures how fast a revocation reaches another server;
writes bench/results/.

See bench/README.md for the arms and how to read the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.arms import ARM_KEYS, ARMS, Arm, ArmResult, Driver, check_answer, tokens_for
from bench.probes import Propagation, count_per_request, measure_propagation
from bench.servers import PYTHON, ROOT, AppServer, Backend, embedded_backend, server_backend
from tokens_app.keys import generate_private_key_pem, write_secret_file
from tokens_app.management.commands.generate_secrets import generate_secret

RESULTS = ROOT / "bench" / "results"
# The settings each server differs in; all else is the backend's environment.
SERVERS = {
    "main": {"TOKENS_IMMEDIATE_REVOCATION": "1"},
    "norev": {"TOKENS_IMMEDIATE_REVOCATION": "0"},
    "eddsa": {"TOKENS_IMMEDIATE_REVOCATION": "1"},
    "asgi": {"TOKENS_IMMEDIATE_REVOCATION": "1"},
    # The other server of the propagation probe: main's twin.
    "peer": {"TOKENS_IMMEDIATE_REVOCATION": "1"},
}


def backend_env(backend: Backend, secrets_env: dict[str, str]) -> dict[str, str]:
    dropped = {"DATABASE_URL", "REDIS_URL", "TOKENS_IMMEDIATE_REVOCATION", "CACHE_KEY_PREFIX"}
    return {
        **{key: value for key, value in os.environ.items() if key not in dropped},
        **secrets_env,
        **backend.env,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_DEBUG": "0",
        # Longer than the whole run: an access token expiring mid-run would
        # turn the browser arm into a refresh arm.
        "ACCESS_TOKEN_EXPIRY": "2h",
        "PYTHONPATH": str(ROOT),
    }


def eddsa_key_env(workdir: Path) -> dict[str, str]:
    """A fresh Ed25519 private key in ``workdir`` and the settings that sign access tokens with it."""
    path = workdir / "access-eddsa.pem"
    write_secret_file(path, generate_private_key_pem("EdDSA"))
    return {"ACCESS_TOKEN_ALGORITHM": "EdDSA", "ACCESS_TOKEN_PRIVATE_KEY_FILE": str(path)}


def seed_backend(env: dict[str, str], eddsa_env: dict[str, str], workdir: Path, args: Any) -> dict[str, Any]:
    """The database seeded (bench/seed.py), and an access token of the EdDSA server's own."""
    print(f"  seeding ({args.refresh_tokens} + {args.sjwt_refresh_tokens} refresh tokens)...", flush=True)
    command = [
        PYTHON,
        "-m",
        "bench.seed",
        str(workdir),
        str(args.refresh_tokens),
        str(args.sjwt_refresh_tokens),
    ]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    seed = json.loads((workdir / "seed.json").read_text())
    command = [PYTHON, "-m", "bench.seed", str(workdir), "0", "--access-for", "eddsa"]
    subprocess.run(command, cwd=ROOT, env=eddsa_env, check=True)
    seed["access_tokens"] = {"eddsa": (workdir / "access_eddsa.txt").read_text().strip()}
    return seed


def start_servers(
    names: list[str],
    env: dict[str, str],
    eddsa_env: dict[str, str],
    workdir: Path,
    started: dict[str, AppServer],
) -> None:
    """Start the servers ``names`` into ``started`` (so the caller stops what did start)."""
    for name in names:
        server_env = {**(eddsa_env if name == "eddsa" else env), **SERVERS[name]}
        taken = {server.port for server in started.values()}
        log = workdir / f"server-{name}.log"
        started[name] = AppServer(name, server_env, log, exclude=taken, asgi=name == "asgi")


def check_and_warm(driver: Driver, arms: list[Arm], seed: dict[str, Any], warmup: int) -> None:
    """Each arm answers as intended (wrk would count a redirect as a success),
    then every arm runs for the warm-up."""
    for arm in arms:
        for _ in range(1 if arm.kind == "login" else 4):
            status, _, body = driver.one(arm, count=False)
            check_answer(arm, status, body, seed["user_id"])
    for arm in arms:
        sample = driver.wrk(arm, warmup)
        if sample.bad:
            raise SystemExit(f"arm {arm.key}: {sample.bad} failed requests during warm-up")


def run_rounds(driver: Driver, arms: list[Arm], results: dict[str, ArmResult], args: Any, key: str) -> None:
    for round_no in range(args.rounds):
        # Rotate the order each round so no arm always follows the same one.
        order = arms[round_no % len(arms) :] + arms[: round_no % len(arms)]
        for arm in order:
            sample = driver.wrk(arm, args.duration)
            if sample.bad:
                raise SystemExit(f"arm {arm.key}: {sample.bad} failed requests of {sample.requests}")
            results[arm.key].samples.append(sample)
            print(
                f"[{key}] round {round_no + 1}/{args.rounds} {arm.key:<14} "
                f"{sample.rps:9.1f} req/s  p50 {sample.p50_ms:7.2f} ms  p99 {sample.p99_ms:7.2f} ms  "
                f"cpu {sample.cpu_us:7.0f} us/req",
                flush=True,
            )


def run_backend(backend: Backend, args: Any, secrets_env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Every arm of one backend; the propagation probe last, since its bumps
    end the seeded sessions. Returns the arms' results and the probe's."""
    env = backend_env(backend, secrets_env)
    eddsa_env = {**env, **eddsa_key_env(workdir)}
    arms = [arm for arm in ARMS if arm.key in args.arms]
    probe = backend.redis_url is not None and args.bumps > 0
    names = sorted(
        {arm.server for arm in arms} | {"main"} | ({"peer"} if probe else set()), key=list(SERVERS).index
    )
    servers: dict[str, AppServer] = {}
    try:
        seed = seed_backend(env, eddsa_env, workdir, args)
        start_servers(names, env, eddsa_env, workdir, servers)
        driver = Driver(seed, workdir, servers)
        results = {arm.key: ArmResult(arm) for arm in arms}
        print(f"[{backend.key}] checks and warm-up, {args.warmup} s per arm...", flush=True)
        check_and_warm(driver, arms, seed, args.warmup)
        count_per_request(driver, arms, results, requests=args.count_requests, redis_url=backend.redis_url)
        run_rounds(driver, arms, results, args, backend.key)
        propagation = None
        if probe:
            print(f"[{backend.key}] propagation: {args.bumps} bumps...", flush=True)
            propagation = measure_propagation(
                seed, servers["main"].port, servers["peer"].port, bumps=args.bumps
            )
        return {"results": results, "propagation": propagation}
    finally:
        for server in servers.values():
            server.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK") == "1",
        help="a smoke run: 1 round of 1 s per arm, 20 bumps (also BENCH_QUICK=1)",
    )
    parser.add_argument("--duration", type=int, default=None, help="seconds per arm and round (3)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (4)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up seconds per arm (2)")
    parser.add_argument(
        "--count-requests", type=int, default=None, help="requests per arm for the counts (20)"
    )
    parser.add_argument("--bumps", type=int, default=None, help="revocations for the propagation probe (200)")
    parser.add_argument("--refresh-tokens", type=int, default=None, help="refresh tokens to seed, each kind")
    parser.add_argument("--arms", default=",".join(ARM_KEYS))
    parser.add_argument("--backends", default=None, help="embedded,postgres (default: what the env allows)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the work directories and server logs")
    args = parser.parse_args(argv)
    defaults = (
        {"duration": 1, "rounds": 1, "warmup": 1, "count_requests": 5, "bumps": 20}
        if args.quick
        else {
            "duration": int(os.environ.get("BENCH_DURATION", 3)),
            "rounds": int(os.environ.get("BENCH_ROUNDS", 4)),
            "warmup": 2,
            "count_requests": 20,
            "bumps": 200,
        }
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.arms = args.arms.split(",")
    if unknown := set(args.arms) - set(ARM_KEYS):
        parser.error(f"unknown arms: {', '.join(sorted(unknown))}")
    if "floor" not in args.arms:
        args.arms.insert(0, "floor")
    # Every run of each refresh arm (warm-up included), the answer check and the counting.
    override = args.refresh_tokens
    for kind, name in (("refresh", "refresh_tokens"), ("sjwt_refresh", "sjwt_refresh_tokens")):
        need = (
            args.rounds * tokens_for(kind, args.duration)
            + tokens_for(kind, args.warmup)
            + args.count_requests
            + 10
        )
        setattr(args, name, override or (need if kind in args.arms else 0))
    return args


def wanted_backends(args: argparse.Namespace) -> list[str]:
    if args.backends:
        return args.backends.split(",")
    server = os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")
    return ["embedded", "postgres"] if server else ["embedded"]


def hasher_info(env: dict[str, str]) -> tuple[str, int]:
    code = (
        "import django; django.setup(); from django.contrib.auth.hashers import get_hasher; "
        "h = get_hasher(); print(h.algorithm, getattr(h, 'iterations', 0))"
    )
    environ = {**os.environ, **env}
    out = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, check=True
    )
    algorithm, iterations = out.stdout.split()
    return algorithm, int(iterations)


def run_all(args: argparse.Namespace, secrets_env: dict[str, str]) -> tuple[dict, dict, dict]:
    all_results: dict[str, dict[str, ArmResult]] = {}
    labels: dict[str, str] = {}
    propagation: dict[str, Propagation] = {}
    prefix = f"authproject-bench-{os.getpid()}"
    for key in wanted_backends(args):
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{key}-"))
        backend = None
        try:
            backend = server_backend(prefix, workdir) if key == "postgres" else embedded_backend(workdir)
            labels[key] = backend.label
            ran = run_backend(backend, args, secrets_env, workdir)
        finally:
            for step in backend.cleanup if backend else []:
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - cleanup must not hide the run's own error
                    print(f"[{key}] cleanup failed: {exc}", file=sys.stderr)
            if args.keep:
                print(f"[{key}] kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        all_results[key] = ran["results"]
        if ran["propagation"] is not None:
            propagation[key] = ran["propagation"]
    return all_results, labels, propagation


def write_raw(
    out: Path, info: dict[str, Any], all_results: dict, propagation: dict[str, Propagation]
) -> None:
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": info,
        "results": {
            key: {
                arm: {
                    "queries": r.queries,
                    "redis_commands": r.redis_commands,
                    "redis_breakdown": r.redis_breakdown,
                    "redis_background_per_second": r.redis_background,
                    "samples": [s.__dict__ for s in r.samples],
                }
                for arm, r in results.items()
            }
            for key, results in all_results.items()
        },
        "propagation": {key: p.__dict__ for key, p in propagation.items()},
    }
    (raw / f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(json.dumps(data, indent=1, default=str))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    info = report.machine()
    secrets_env = {
        name: generate_secret()
        for name in ("DJANGO_SECRET_KEY", "ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET")
    }
    info["hasher"], info["iterations"] = hasher_info(
        {**secrets_env, "DJANGO_SETTINGS_MODULE": "bench.settings", "PYTHONPATH": str(ROOT)}
    )
    started = time.monotonic()
    all_results, labels, propagation = run_all(args, secrets_env)
    info["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info["seconds"] = round(time.monotonic() - started)
    args.out.mkdir(parents=True, exist_ok=True)
    text = report.markdown(all_results, labels, info, args, propagation)
    (args.out / "results.md").write_text(text)
    report.chart(all_results, labels, args.out / "results.png")
    write_raw(args.out, info, all_results, propagation)
    print()
    print(text)
    print(f"Wrote {args.out / 'results.md'} and {args.out / 'results.png'} in {info['seconds']} s.")


if __name__ == "__main__":
    main()
