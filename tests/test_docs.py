"""The docs build strictly (broken references fail), document every public name, and
their code samples run."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import participant
from participant.emulator import EmulatorServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The site, built once, and its build's warnings. Not ``--quiet``: it hides the
    warnings from mkdocs' strict count too (50 of them passed unseen)."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--no-strict",
         "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = re.findall(r"^WARNING\s+-\s+(.*)$", proc.stdout + proc.stderr, re.M)
    return out, warnings


@pytest.fixture(scope="module")
def site(build: tuple[Path, list[str]]) -> Path:
    return build[0]


def test_docs_build_without_warnings(build: tuple[Path, list[str]]) -> None:
    assert build[1] == []


def test_docs_build_strict_with_every_nav_page(site: Path) -> None:
    for page in ("quickstart", "concepts", "cli", "reference", "emulator", "testing",
                 "limits", "protocol", "guest-mode", "benchmarks"):
        assert (site / page / "index.html").is_file(), page


def test_reference_documents_every_public_name(site: Path) -> None:
    html = (site / "reference" / "index.html").read_text()
    anchors = set(re.findall(r'id="(participant\.[\w.]+)"', html))
    missing = [
        name for name in participant.__all__ if not name.startswith("__")
        if not any(a.endswith("." + name) for a in anchors)
    ]
    assert missing == []


def test_readme_has_exactly_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert block is not None
    assert block[1].splitlines() == [
        "python3 -m pip install -e '.[emulator]' && participant demo",
        "python3 -m pip install -e '.[test]' && python3 -m pytest",
    ]


def test_readme_example_is_short() -> None:
    """The README's example stays "ten lines" (it runs as printed with the other programs)."""
    code = _python_blocks("README.md")[0]
    assert len([line for line in code.splitlines() if line.strip()]) <= 12


# ---- every Python snippet of README.md and docs/, run as printed ---------------------------
#
# A block is one of three kinds:
#   - a pytest module (it defines ``test_...`` functions): every such block of a page runs
#     together with pytest and the ``participant`` plugin; a block whose first line is
#     ``# conftest.py`` is that run's conftest.py;
#   - a program: run with ``python -c`` in a subprocess, as the page tells its reader to
#     run it: PARTICIPANT_TOKEN is a customer's ("Ann") token in a new chat on a loopback
#     emulator that also has an agent ("Bob"), and AWS_ENDPOINT_URL is that emulator.
#     A program that reads the chat until it ends (``async for ... in`` or
#     ``wait_stopped()``) is driven: once it has sent its first message, Bob sends
#     three messages 0.5 s apart, then the chat ends. A program must exit 0 with
#     nothing on stderr.

SNIPPET_PAGES = ("README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")))

# Blocks known not to run as printed, on pages other engineers own: strict, so a fix
# shows up as XPASS and the entry must go. Key: (page, index of the block on the page).
NOT_RUNNABLE_YET: dict[tuple[str, int], str] = {}
# Not run at all: none today (every block reads PARTICIPANT_TOKEN / AWS_ENDPOINT_URL).
NOT_RUN: dict[tuple[str, int], str] = {}


def _python_blocks(page: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (ROOT / page).read_text(), re.S | re.M)


def _kind(code: str) -> str:
    if code.startswith("# conftest.py"):
        return "conftest"
    if re.search(r"^(async )?def test_", code, re.M):
        return "test"
    return "program"


def _snippets(kind: str) -> list[object]:
    params: list[object] = []
    for page in SNIPPET_PAGES:
        for index, code in enumerate(_python_blocks(page)):
            if _kind(code) != kind:
                continue
            marks = []
            if (page, index) in NOT_RUNNABLE_YET:
                marks.append(pytest.mark.xfail(strict=True, reason=NOT_RUNNABLE_YET[page, index]))
            params.append(pytest.param(page, index, code, id=f"{page}#{index}", marks=marks))
    return params


def test_every_snippet_is_collected() -> None:
    total = sum(len(_python_blocks(page)) for page in SNIPPET_PAGES)
    collected = sum(len(_snippets(kind)) for kind in ("program", "test", "conftest"))
    assert total == collected > 0


@attrs.define
class ProgramRun:
    returncode: int
    stdout: list[tuple[float, str]]  # (trio.current_time() when read, line)
    stderr: str
    sent: list[tuple[float, str]]  # (when Bob sent it, content)
    contact_id: str


async def run_program(code: str, server: EmulatorServer, cwd: Path) -> ProgramRun:
    """Run ``code`` as the reader of the page would (see the comment above)."""
    emu = server.emulator
    chat = await emu.start_chat(display_name="Ann")
    bob = await emu.add_participant(chat.contact_id, display_name="Bob")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PARTICIPANT_TOKEN": chat.participant_token,
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "PYTHONPATH": str(ROOT),  # this checkout's participant, whatever is installed
    }
    driven = bool(re.search(r"async for \w+ in |wait_stopped\(\)", code))
    stdout: list[tuple[float, str]] = []
    sent: list[tuple[float, str]] = []
    with trio.fail_after(60):
        async with emu.item_stream() as items, trio.open_nursery() as nursery:
            proc = await trio.lowlevel.open_process(
                [sys.executable, "-u", "-c", code], stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
            )
            assert proc.stdout is not None and proc.stderr is not None
            err = bytearray()

            async def read_stdout() -> None:
                buffer = b""
                async for data in proc.stdout:  # type: ignore[union-attr]
                    buffer += data
                    *lines, buffer = buffer.split(b"\n")
                    now = trio.current_time()
                    stdout.extend((now, line.decode()) for line in lines)

            async def read_stderr() -> None:
                async for data in proc.stderr:  # type: ignore[union-attr]
                    err.extend(data)

            nursery.start_soon(read_stdout)
            nursery.start_soon(read_stderr)
            if driven:
                async for _contact, item in items:  # its first message: it is subscribed
                    if item.get("ParticipantId") == chat.participant_id and (
                        item.get("Type") == "MESSAGE"
                    ):
                        break
                for i in range(3):
                    if i:
                        await trio.sleep(0.5)  # the scenario's pace, not a wait for an event
                    content = f"message {i + 1}"
                    sent.append((trio.current_time(), content))
                    await emu.send_message_as(chat.contact_id, bob.participant_id, content=content)
                await emu.end_chat(chat.contact_id)
            returncode = await proc.wait()
    return ProgramRun(returncode, stdout, err.decode(), sent, chat.contact_id)


@pytest.mark.parametrize(("page", "index", "code"), _snippets("program"))
async def test_program_snippet_runs_as_printed(
    page: str, index: int, code: str, emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    compile(code, f"{page} block {index}", "exec")  # even a block not run must be Python
    if (page, index) in NOT_RUN:
        pytest.skip(NOT_RUN[page, index])
    if "PySide6" in code:
        pytest.importorskip("PySide6", reason="the Qt recipe needs PySide6 (not a dependency)")
    run = await run_program(code, emulator_server, tmp_path)
    output = "\n".join(line for _at, line in run.stdout)
    assert run.returncode == 0, f"{page} block {index}:\n{output}\n{run.stderr}"
    assert run.stderr == "", run.stderr
    assert emulator_server.emulator.transcript(run.contact_id)  # it talked to the emulator


async def test_quickstart_loop_shows_each_message_within_half_a_second(
    emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    """Messages 0.5 s apart are printed within 0.5 s each: sending a read receipt (held up
    to 5 s for coalescing) never stalls the loop; the chat's end raises nothing."""
    code = next(c for c in _python_blocks("docs/quickstart.md") if "send_receipt" in c)
    run = await run_program(code, emulator_server, tmp_path)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    printed = {line: at for at, line in run.stdout}
    delays = [printed[f"Bob: {content}"] - at for at, content in run.sent]
    assert all(0 <= d < 0.5 for d in delays), delays
    print(f"quickstart loop: delays {[round(d, 3) for d in delays]} s")
    assert run.stdout[-1][1] == "the chat has ended"
    read = [
        s["Content"] for s in emulator_server.emulator.transcript(run.contact_id)
        if any("ReadTimestamp" in r for r in s.get("MessageMetadata", {}).get("Receipts", ()))
    ]
    assert read  # receipts are sent (coalesced: not necessarily one per message)


def _page_pytest_run(page: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    blocks = _python_blocks(page)
    tests = [b for b in blocks if _kind(b) == "test"]
    conftests = [b for b in blocks if _kind(b) == "conftest"]
    (tmp_path / "test_from_docs.py").write_text("\n\n".join(tests))
    if conftests:
        (tmp_path / "conftest.py").write_text("\n\n".join(conftests))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-o", "trio_mode=true", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "page", [p for p in SNIPPET_PAGES if any(_kind(b) == "test" for b in _python_blocks(p))]
)
def test_pytest_snippets_pass_as_printed(page: str, tmp_path: Path) -> None:
    tests = [b for b in _python_blocks(page) if _kind(b) == "test"]
    count = sum(len(re.findall(r"^(?:async )?def test_", b, re.M)) for b in tests)
    proc = _page_pytest_run(page, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{count} passed" in proc.stdout, proc.stdout


def test_no_page_points_at_a_file_the_user_does_not_have(site: Path) -> None:
    """The docs stand alone: wire facts link to the Protocol page, never to the design
    notes the project was built from."""
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in [
        ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "participant").rglob("*.py"),
        *(ROOT / "examples").glob("*.py"),
    ]}
    texts.update({str(p): p.read_text() for p in site.rglob("*.html")})
    stale = re.compile(r"protocol\.md §|design\.md|/work/shared|design notes")
    assert [name for name, text in texts.items() if stale.search(text)] == []
    html = "".join(p.read_text() for p in site.rglob("*.html"))
    assert "protocol.md" not in re.sub(r'href="[^"]*"', "", html)  # links are rewritten


def test_protocol_page_cites_its_sources() -> None:
    text = (ROOT / "docs" / "protocol.md").read_text()
    for source in ("service-2.json", "APIReference", "adminguide", "amazon-connect-chatjs"):
        assert source in text


def _diagrams() -> Any:
    spec = importlib.util.spec_from_file_location("docs_diagrams", ROOT / "docs" / "diagrams.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _svg_texts(path: Path) -> list[str]:
    return [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text())]


def test_state_diagram_picture_matches_the_state_table() -> None:
    from participant.machine import State, edges

    svg = ROOT / "docs" / "img" / "states.svg"
    digest = _diagrams().table_digest()
    assert f"state table {digest}" in svg.read_text(), "run: python docs/diagrams.py"
    texts = " ".join(_svg_texts(svg))
    for state in State:
        assert state.value in texts
    for _source, trigger, _dest in edges():
        assert trigger in texts


def test_diagram_script_draws_the_committed_pictures(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "diagrams.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("states.svg", "timeline.svg"):
        drawn, committed = tmp_path / name, ROOT / "docs" / "img" / name
        assert _svg_texts(drawn) == _svg_texts(committed), f"{name}: run python docs/diagrams.py"
    assert "GetTranscript" in _svg_texts(tmp_path / "timeline.svg")


def test_site_shows_the_pictures(site: Path) -> None:
    home = (site / "index.html").read_text()
    assert 'src="img/states.svg"' in home and 'src="img/timeline.svg"' in home
    assert (site / "img" / "states.svg").is_file() and (site / "img" / "timeline.svg").is_file()
