"""The deployed layer: the product as an operator runs it, on loopback, driven over HTTP.

One stack for the package (``deployment``; it stops before the in-process tests run):

- the WeChat sandbox (``flask wechat-sandbox``);
- the API under gunicorn with 2 sync workers and an access-log file, configured with the
  operator's defaults (``api``) — the one whose limits and logs the tests judge;
- a second gunicorn on the same database with limits out of the way (``setup``): fixtures
  build their data through it, so that building data never spends the budgets under test;
- the scheduler and two ``notify dispatch`` workers.

All of them run with ``APP_ENV=production``, fresh random secrets in the environment, the sandbox as
``WECHAT_API_BASE`` and ``TRUSTED_PROXY_HOPS=1`` (the tests play the reverse proxy by sending
``X-Forwarded-For``), on their own database: a temporary SQLite file, or — when
``DATABASE_URL`` names a PostgreSQL server — a fresh database next to that one
(``<name>_deployed``, dropped at the end). Never the in-process suite's database: that one is
wiped between tests. It is migrated with ``flask db upgrade`` and seeded with
``flask seed-demo --scale 0.001``, as deployed.

Every process is stopped at the end, also when a test fails; a failing test's report carries
the tail of every process's stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
import requests
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.wechat_fixtures import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# Read at import, before the in-process fixtures point DATABASE_URL and WECHAT_API_BASE at
# their own database and sandbox.
_GIVEN_DATABASE_URL = os.environ.get("DATABASE_URL") or None
# Settings of the product that must come from this file, not from the shell running pytest.
_PRODUCT_VARS = re.compile(
    r"^(DATABASE_URL|APP_ENV|REDIS_URL|SECRET_KEY|JWT_SECRET_KEY|ID_NUMBER_KEY|ID_NUMBER_OLD_KEYS|"
    r"WECHAT_.*|TEST_.*|LOGIN_.*|BIND_.*|NOTIFY_.*|QUIET_HOURS|TRUSTED_PROXY_HOPS|DEMO_.*|"
    r"SURVEY_ANSWER_RATE_LIMIT|SCHEDULER_LEASE_SECONDS|IMPORT_.*|FLASK_.*)$"
)
_BASE_ENV = {k: v for k, v in os.environ.items() if not _PRODUCT_VARS.match(k)}

DEMO_PASSWORD = "demo-pass-2024"
STARTUP_SECONDS = 60
# Budgets no fixture reaches: the setup API builds data without touching the limits under test.
UNLIMITED = {
    "LOGIN_RATE_LIMIT": "100000 per minute",
    "LOGIN_USER_FAILURE_LIMIT": "100000 per hour",
    "BIND_RATE_LIMIT": "100000 per hour",
    "BIND_TARGET_RATE_LIMIT": "100000 per day",
    "SURVEY_ANSWER_RATE_LIMIT": "100000 per hour",
}
DEPLOYED_LAST = "test_access_log_privacy.py"
_current = None  # the running Deployment, for failure reports


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_hour() -> int:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).hour


class Process:
    """One OS process of the deployment, its stdout and stderr kept in files."""

    def __init__(self, name: str, argv: list[str], env: dict, logdir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.stdout_path = logdir / f"{name}.stdout.log"
        self.stderr_path = logdir / f"{name}.stderr.log"
        self.popen: subprocess.Popen | None = None
        self.stopped = False  # on purpose: not a death to report

    def start(self) -> Process:
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace: float = 10) -> None:
        """SIGTERM to its process group (gunicorn's workers too), SIGKILL after ``grace``."""
        if self.popen is None:
            return
        self.stopped = True
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # stragglers of the group (workers)
        self.popen.wait(10)

    def stderr(self, last_lines: int | None = 40) -> str:
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines if last_lines is None else lines[-last_lines:])


class Deployment:
    def __init__(self, workdir: Path, database_url: str):
        self.workdir = workdir
        self.logdir = workdir / "logs"
        self.logdir.mkdir(exist_ok=True)
        self.database_url = database_url
        self.processes: dict[str, Process] = {}
        self.retired: list[Process] = []  # stopped processes whose logs still count
        self.access_logs: list[Path] = []
        self.secrets = {
            "SECRET_KEY": secrets.token_urlsafe(32),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "ID_NUMBER_KEY": secrets.token_urlsafe(32),
        }
        self.sandbox_url = ""
        self.api_url = ""
        self.setup_url = ""
        self.engine = create_engine(database_url, poolclass=NullPool)
        self.seed_output = ""

    # --- environment and processes -------------------------------------------------------
    def env(self, **overrides: str) -> dict:
        env = {
            **_BASE_ENV,
            **self.secrets,
            "APP_ENV": "production",
            "DATABASE_URL": self.database_url,
            "WECHAT_API_BASE": self.sandbox_url or "http://127.0.0.1:9",
            "TRUSTED_PROXY_HOPS": "1",
            # No quiet hours by default: what the tests see must not depend on the hour they run
            # at (the withdrawal test sets its own quiet hours).
            "QUIET_HOURS": "0-0",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(overrides)
        return env

    def flask(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [PYTHON, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
            )
        return done.stdout

    def start(self, name: str, argv: list[str], wait_url: str | None = None, **env: str) -> Process:
        if name in self.processes and self.processes[name].alive:
            raise RuntimeError(f"{name} is already running")
        if name in self.processes:
            self.retired.append(self.processes.pop(name))
        process = Process(f"{name}-{len(self.retired)}", argv, self.env(**env), self.logdir).start()
        self.processes[name] = process
        if wait_url:
            self.wait_http(process, wait_url)
        return process

    def start_gunicorn(self, name: str, **env: str) -> str:
        port = free_port()
        access_log = self.logdir / f"{name}.access.log"
        self.access_logs.append(access_log)
        self.start(
            name,
            [
                PYTHON,
                "-m",
                "gunicorn",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                str(access_log),
                "--graceful-timeout",
                "5",
                "wsgi:app",
            ],
            wait_url=f"http://127.0.0.1:{port}/healthz",
            **env,
        )
        return f"http://127.0.0.1:{port}"

    def start_dispatcher(self, name: str, **env: str) -> Process:
        process = self.start(name, [PYTHON, "-m", "flask", "--app", "wsgi", "notify", "dispatch", "--idle", "1"], **env)
        self.wait_running(process)
        return process

    def start_workers(self) -> None:
        """The scheduler and two dispatchers, with the operator's settings."""
        process = self.start("scheduler", [PYTHON, "-m", "flask", "--app", "wsgi", "scheduler", "run"])
        self.wait_running(process)
        for n in (1, 2):
            self.start_dispatcher(f"dispatcher-{n}")

    def stop(self, *names: str) -> None:
        for name in names:
            if name in self.processes:
                self.processes[name].stop()

    @contextlib.contextmanager
    def workers_paused(self):
        """Nothing dispatches but what the test starts itself (the scheduler dispatches too)."""
        names = ["scheduler", "dispatcher-1", "dispatcher-2"]
        self.stop(*names)
        try:
            yield
        finally:
            self.start_workers()

    def wait_http(self, process: Process, url: str, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not process.alive:
                process.stop()  # reported here, once
                raise RuntimeError(
                    f"{process.name} exited with {process.popen.returncode} before {url} "
                    f"answered; its stderr:\n{process.stderr(80)}"
                )
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                process.stop()
                raise RuntimeError(
                    f"{url} did not answer within {timeout:.0f} s; {process.name}'s stderr:\n{process.stderr(80)}"
                )
            time.sleep(0.2)

    def wait_running(self, process: Process, seconds: float = 1.5) -> None:
        """A worker without a port: it must still be running once its app has loaded."""
        time.sleep(seconds)
        if not process.alive:
            process.stop()  # reported here, once
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode}; its stderr:\n{process.stderr(80)}"
            )

    def check_alive(self) -> None:
        dead = [p for p in self.processes.values() if p.popen is not None and not p.alive and not p.stopped]
        for process in dead:
            process.stopped = True  # reported here, once
        if dead:
            raise AssertionError(
                "processes died: " + "; ".join(f"{p.name} (rc {p.popen.returncode}):\n{p.stderr(40)}" for p in dead)
            )

    def stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def all_processes(self) -> list[Process]:
        return [*self.retired, *self.processes.values()]

    def report(self) -> str:
        parts = []
        for process in self.all_processes():
            state = "running" if process.alive else f"exited {process.popen.returncode}" if process.popen else "-"
            parts.append(f"--- {process.name} ({state}) stderr, last lines:\n{process.stderr(30)}")
        return "\n".join(parts)

    # --- clients ---------------------------------------------------------------------------
    @property
    def sandbox(self) -> SandboxServer:
        return SandboxServer(self.sandbox_url)

    def client(self, base: str | None = None, forwarded_for: str | None = None) -> Client:
        return Client(base or self.api_url, forwarded_for)

    def setup_client(self) -> Client:
        return Client(self.setup_url)

    # --- the database, for what only an operator could see ---------------------------------
    def sql(self, statement: str, **params):
        """Run one statement; datetime parameters go through the product's UTC column type."""
        from app.common.types import UTCDateTime

        clause = text(statement)
        for name, value in params.items():
            if isinstance(value, datetime):
                clause = clause.bindparams(bindparam(name, type_=UTCDateTime()))
        with self.engine.begin() as conn:
            result = conn.execute(clause, params)
            return result.mappings().all() if result.returns_rows else result.rowcount

    def dispose(self) -> None:
        self.engine.dispose()


class Client:
    """An HTTP client of one API; ``forwarded_for`` is what the reverse proxy would add."""

    def __init__(self, base: str, forwarded_for: str | None = None):
        self.base = base.rstrip("/")
        self.forwarded_for = forwarded_for
        self.http = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        fresh: bool = False,
        headers: dict | None = None,
        **kwargs,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        if self.forwarded_for and "X-Forwarded-For" not in all_headers:
            all_headers["X-Forwarded-For"] = self.forwarded_for
        url = self.base + path
        # fresh: a new TCP connection, so that gunicorn's workers take turns.
        sender = requests.request if fresh else self.http.request
        return sender(method, url, headers=all_headers, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)


# --- building data through the API -----------------------------------------------------------

_numbers = count(1)


def make_id_number(n: int) -> str:
    """A valid ID number (GB 11643) no demo resident has: another county's area code."""
    from app.common.ids import check_char

    born = date(1950, 1, 1) + timedelta(days=(97 * n) % 20000)
    first17 = f"371082{born:%Y%m%d}{n % 1000:03d}"
    return first17 + check_char(first17)


def staff_login(client: Client, username: str, password: str = DEMO_PASSWORD) -> dict:
    response = client.post("/api/v1/auth/staff/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


class Resident:
    """A resident registered, logged in through WeChat and bound, all over HTTP."""

    def __init__(self, rid: int, name: str, id_number: str, openid: str, token: str | None = None):
        self.id, self.name, self.id_number, self.openid, self.token = rid, name, id_number, openid, token


ISSUED: list[str] = []  # every ID number and phone number the layer sent, for the privacy scan


def register_resident(setup: Client, staff: dict, label: str, phone: str | None = None) -> Resident:
    n = next(_numbers)
    name, number = f"{label}{n}", make_id_number(n)
    ISSUED.extend(filter(None, [number, phone]))
    response = setup.post(
        "/api/v1/residents",
        token=staff["access_token"],
        json={
            "name": name,
            "id_number": number,
            "institution_id": staff["staff"]["institution_id"],
            "team_id": staff["staff"]["team_ids"][0],
            **({"phone": phone} if phone else {}),
        },
    )
    assert response.status_code == 201, response.text
    return Resident(response.json()["id"], name, number, openid=f"o-{label}-{n}-{secrets.token_hex(3)}")


def wechat_login(client: Client, openid: str, fresh: bool = False) -> requests.Response:
    return client.post("/api/v1/auth/wechat/login", json={"code": f"{openid}:{secrets.token_hex(4)}"}, fresh=fresh)


def bind_with_credits(setup: Client, resident: Resident) -> Resident:
    """WeChat login, bind, and accept every subscribe template once (one send credit each)."""
    response = wechat_login(setup, resident.openid)
    assert response.status_code == 200, response.text
    resident.token = response.json()["access_token"]
    response = setup.post(
        "/api/v1/auth/wechat/bind", token=resident.token, json={"name": resident.name, "id_number": resident.id_number}
    )
    assert response.status_code == 200, response.text
    offered = setup.get("/api/v1/me/subscriptions", token=resident.token)
    assert offered.status_code == 200, offered.text
    response = setup.post(
        "/api/v1/me/subscriptions", token=resident.token, json={"accepted": [t["template_id"] for t in offered.json()]}
    )
    assert response.status_code == 200, response.text
    return resident


def wait_for(predicate, timeout: float, what: str, deployment: Deployment | None = None, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if deployment is not None:
            deployment.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


# --- the database of the deployment ------------------------------------------------------------


@contextlib.contextmanager
def deployed_database(tmp_dir: Path):
    if not _GIVEN_DATABASE_URL:
        yield f"sqlite:///{tmp_dir / 'deployed.sqlite3'}"
        return
    url = make_url(_GIVEN_DATABASE_URL.replace("postgres://", "postgresql+psycopg://", 1))
    if url.get_backend_name() != "postgresql":
        raise RuntimeError(f"the deployed layer runs on SQLite or PostgreSQL, not {url.get_backend_name()}")
    name = f"{url.database}_deployed"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def deployment(tmp_path_factory):
    global _current
    workdir = tmp_path_factory.mktemp("deployed")
    with deployed_database(workdir) as database_url:
        stack = Deployment(workdir, database_url)
        _current = stack
        try:
            stack.flask("db", "upgrade")
            stack.seed_output = stack.flask("seed-demo", "--scale", "0.001")
            port = free_port()
            stack.sandbox_url = f"http://127.0.0.1:{port}"
            stack.start(
                "sandbox",
                [PYTHON, "-m", "flask", "--app", "wsgi", "wechat-sandbox", "--host", "127.0.0.1", "--port", str(port)],
                wait_url=f"{stack.sandbox_url}/sandbox/state",
            )
            stack.api_url = stack.start_gunicorn("api")
            stack.setup_url = stack.start_gunicorn("setup", **UNLIMITED)
            stack.start_workers()
            yield stack
        finally:
            stack.stop_all()
            stack.dispose()
            _current = None


@pytest.fixture(scope="package")
def setup(deployment) -> Client:
    return deployment.setup_client()


@pytest.fixture(scope="package")
def doctor(setup) -> dict:
    """hc01-doc01, a team leader of 鲸园 health centre: registers residents, books, reminds."""
    return staff_login(setup, "hc01-doc01")


def pytest_collection_modifyitems(session, config, items):
    """The privacy scan reads the logs the other deployed tests wrote: it runs after them."""
    here = Path(__file__).parent
    last = [item for item in items if item.path == here / DEPLOYED_LAST]
    rest = [item for item in items if item not in last]
    ours = [i for i, item in enumerate(rest) if item.path.parent == here]
    if last and ours:
        # Right after the other deployed tests, so that the stack stops before the rest of the suite.
        at = ours[-1] + 1
        items[:] = rest[:at] + last + rest[at:]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _current is not None and item.path.parent == Path(__file__).parent:
        report.sections.append(("deployed processes", _current.report()))
