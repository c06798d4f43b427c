"""The docs build strictly (broken references fail), document every public name, and
their code samples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import trio

import participant
from participant.emulator import EmulatorServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_docs_build_strict_with_every_nav_page(site: Path) -> None:
    for page in ("quickstart", "concepts", "cli", "reference", "emulator", "testing",
                 "limits", "guest-mode", "benchmarks"):
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


async def test_readme_example_runs_against_the_emulator(emulator_server: EmulatorServer) -> None:
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S)
    assert code is not None
    lines = code[1].splitlines()
    assert len([line for line in lines if line.strip()]) <= 12
    source = "\n".join(line for line in lines if not line.startswith("trio.run("))
    source = source.replace('region="us-west-2"', f'endpoint_url="{emulator_server.endpoint_url}"')
    namespace: dict[str, object] = {}
    exec(compile(source, "README.md", "exec"), namespace)
    emu = emulator_server.emulator
    chat = await emu.start_chat()
    agent = await emu.add_participant(chat.contact_id, display_name="Agent Smith")
    async with emu.item_stream() as items, trio.open_nursery() as nursery:
        nursery.start_soon(namespace["main"], chat.participant_token)  # type: ignore[arg-type]
        async for _contact, item in items:  # the customer's "Hello!" arrives: it is subscribed
            if item.get("Content") == "Hello!":
                break
        await emu.send_message_as(chat.contact_id, agent.participant_id, content="Hi there")
        await emu.end_chat(chat.contact_id)  # main() returns when the chat ends


def test_testing_page_examples_pass(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "testing.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    tests = [b for b in blocks if "async def test_" in b]
    assert len(tests) >= 2
    (tmp_path / "test_from_docs.py").write_text(
        "from participant import connect\n\n" + "\n\n".join(tests)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-o", "trio_mode=true", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(tests)} passed" in proc.stdout
