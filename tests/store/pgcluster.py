"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temporary directory,
listening only on a unix socket in that directory, trust authentication, removed afterwards.

The binaries come from ``PATH`` or the Debian package's ``/usr/lib/postgresql/*/bin``. As
root (PostgreSQL refuses to run as root) the server runs as the ``postgres`` user via
``runuser``. Without a server: ``pytest.skip`` with the reason, or ``pytest.fail`` when
``CI=true`` (``.ci/run`` installs the package).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL needed with CI=true: {reason}")
    pytest.skip(f"no PostgreSQL server: {reason}")


class PgCluster:
    """A running cluster; :meth:`new_database` gives each test its own database."""

    def __init__(self, bindir: Path, root: Path, run_as: list[str]) -> None:
        self.bindir = bindir
        self.root = root
        self.datadir = root / "data"
        self.sockdir = root / "sock"
        self._run_as = run_as
        self._names = itertools.count()

    def _cmd(self, name: str, *args: str) -> list[str]:
        return [*self._run_as, str(self.bindir / name), *args]

    def start(self) -> None:
        subprocess.run(
            self._cmd("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-sync"),
            check=True, capture_output=True,
        )
        options = f"-c listen_addresses='' -c unix_socket_directories='{self.sockdir}' " \
                  "-c fsync=off -c max_connections=200"
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.datadir), "-o", options, "-w", "-t", "60",
                      "-l", str(self.root / "log"), "start"),
            check=True, capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop"),
            check=False, capture_output=True,
        )

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.sockdir}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install 'participant[fleet]')")
    bindir = _bindir()
    if bindir is None:
        unavailable("no pg_ctl on PATH or in /usr/lib/postgresql/*/bin"
                    " (apt-get install postgresql)")
    assert bindir is not None
    run_as: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="participant-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no 'postgres' user to run the server")
        run_as = ["runuser", "-u", "postgres", "--"]
        os.chown(root, user.pw_uid, user.pw_gid)
    (root / "sock").mkdir()
    if run_as:
        os.chown(root / "sock", pwd.getpwnam("postgres").pw_uid, -1)
    cluster = PgCluster(bindir, root, run_as)
    try:
        cluster.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        unavailable(f"the server did not start: {exc.stderr.decode(errors='replace')[-300:]}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
