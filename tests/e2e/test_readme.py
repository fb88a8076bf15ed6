"""The README's commands, executed as written against a real `datacoop up`."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

from tests.conftest import REPO
from tests.e2e.conftest import RunningNode

from datacoop.cid import cid_of_file


def readme_block(marker: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {marker}:.*?-->\s*```sh\n(.*?)```", text, re.S)
    assert match, f"README has no '{marker}' block"
    return [line for line in match.group(1).splitlines() if line.strip() and not line.startswith("#")]


def run(line: str, node: RunningNode) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(line)
    assert argv[0] == "datacoop"
    command = [sys.executable, "-m", "datacoop", *argv[1:]]
    return subprocess.run(command, cwd=REPO, env=node.env(), capture_output=True, text=True, timeout=120)


def test_readme_opens_with_the_two_newcomer_commands() -> None:
    first_block = (REPO / "README.md").read_text().split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands == ["make up", "make test"]


def test_tour_runs_as_written(running_node: RunningNode) -> None:
    # Execute
    lines = readme_block("tour")
    results = [run(line, running_node) for line in lines]
    # Assert
    for line, result in zip(lines, results, strict=True):
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    created, cid, submitted, status, shown = (r.stdout for r in results)
    expected_cid = cid_of_file(REPO / "examples" / "mask.jpg")
    assert "task 1: Photos of N95 masks" in created
    assert cid.split() == [expected_cid, "examples/mask.jpg"]
    assert f"as submission 1 ({expected_cid}): received" in submitted
    assert re.search(r"submission 1: task 1  (received|screening|in_review|rejected)", status)
    assert "· → received — signed" in status
    assert "submissions: 1" in shown


def test_cli_errors_are_one_line_with_the_field(running_node: RunningNode) -> None:
    no_key = run("datacoop task create --title Masks --reward 1 --target 1 --consent ok", running_node)
    missing = run("datacoop task show 404", running_node)
    assert no_key.returncode == 2
    assert no_key.stderr.startswith("error [key]: no signing key")
    assert missing.returncode == 4
    assert missing.stderr.strip() == "error [task_id]: there is no task 404"
    assert "Traceback" not in no_key.stderr + missing.stderr


def test_toured_submission_is_prescreened_by_the_worker_up_started(running_node: RunningNode) -> None:
    import time

    for line in readme_block("tour")[:3]:
        assert run(line, running_node).returncode == 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = run("datacoop status 1 --key dev:1", running_node).stdout  # its contributor
        if "screening →" in status:
            break
        time.sleep(0.5)
    # the example photo passes every automatic check and waits for validators
    assert "screening → in_review" in status, status
    assert re.search(r"decode\s+pass", status) and re.search(r"duplicates\s+pass", status), status
