"""``participant emulator`` run as a real command in a subprocess: quiet and clear exits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "participant.cli", "emulator", *args]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=60,
                          env=environment(), cwd=ROOT)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_busy_port_is_one_line_and_exit_1(busy_port: int) -> None:
    done = run("--port", str(busy_port))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"participant emulator: cannot listen on 127.0.0.1:{busy_port}: Address already in use"]
    assert "Traceback" not in done.stdout + done.stderr


def test_bad_host_is_one_line_and_exit_1() -> None:
    done = run("--host", "no-such-host.invalid", "--port", "0")
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("participant emulator: cannot listen on no-such-host.invalid:0: ")


@pytest.mark.parametrize("option", ["--connection-expiry", "--url-open-window",
                                    "--connection-token-ttl",
                                    "--participant-token-first-use-window"])
@pytest.mark.parametrize("value", ["-5", "0", "nan", "soon"])
def test_bad_lifetimes_are_refused(option: str, value: str) -> None:
    done = run(option, value, "--port", "0")
    assert done.returncode == 2
    assert f"argument {option}: must be a number of seconds" in done.stderr
    assert f"got '{value}'" in done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_exits_130_quietly() -> None:
    # A child of a background job may inherit an ignored SIGINT: restore the default so
    # Python installs its KeyboardInterrupt handler, as in a terminal.
    proc = subprocess.Popen(
        command("--port", "0"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=environment(), cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # serving once the endpoint is printed
            if line.startswith("Participant Service emulator on "):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "Traceback" not in out + err
    assert "KeyboardInterrupt" not in out + err


def test_tls_prints_the_ca_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    proc = subprocess.Popen(
        command("--port", "0", "--tls", "--ca-file", str(ca)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=environment(), cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Start a chat with boto3"):
                break
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert lines[0].startswith("Participant Service emulator on https://127.0.0.1:")
    assert f"  CA certificate: {ca}" in "".join(lines)
    assert ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert proc.returncode == 130
