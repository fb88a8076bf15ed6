"""datacoop.chain.artifacts: compiling the shipped sources, the disk cache, and the pinned compiler."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import vyper
from tests.contracts.conftest import SOURCES
from vyper.compiler.output import build_abi_output

from datacoop.chain.artifacts import compile_contract, contract_names, contracts_dir
from datacoop.errors import InvalidInput, NotFound

CONTRACTS = [
    "DatasetRegistry",
    "LicenseMarket",
    "TaskEscrow",
    "TaskVault",
    "TestToken",
    "TimelockController",
    "ValidatorStaking",
]


def test_the_sources_are_found_in_the_checkout() -> None:
    assert contracts_dir() == SOURCES
    assert contract_names() == CONTRACTS


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.mark.parametrize("name", CONTRACTS)
def test_the_artifact_is_the_bytecode_the_tests_run(
    name: str, deployers: dict[str, Any], cache: Path
) -> None:
    """RELIABILITY A4: the tests exercise exactly the bytecode the node deploys."""
    artifact = compile_contract(name, cache_dir=cache)
    assert artifact.bytecode == deployers[name].compiler_data.bytecode
    assert artifact.runtime_bytecode == deployers[name].compiler_data.bytecode_runtime
    assert artifact.blueprint_bytecode == deployers[name].compiler_data.blueprint_bytecode
    assert artifact.abi == build_abi_output(deployers[name].compiler_data)
    assert artifact.name == name


def test_the_blueprint_carries_the_init_code_behind_the_eip5202_preamble(cache: Path) -> None:
    artifact = compile_contract("TaskVault", cache_dir=cache)
    assert artifact.blueprint_bytecode.endswith(b"\xfe\x71\x00" + artifact.bytecode)


def test_a_second_compile_reads_the_cache(cache: Path) -> None:
    first = compile_contract("TaskEscrow", cache_dir=cache)
    (cached,) = cache.glob("TaskEscrow-*.json")
    started = time.perf_counter()
    second = compile_contract("TaskEscrow", cache_dir=cache)
    assert time.perf_counter() - started < 0.2  # a JSON read, not a compile (~1 s)
    assert first == second
    assert cached.is_file()


def test_editing_a_module_invalidates_its_importers(tmp_path: Path) -> None:
    # Prepare: a private copy of the sources
    sources = tmp_path / "src"
    shutil.copytree(SOURCES, sources)
    cache = tmp_path / "cache"
    before = compile_contract("LicenseMarket", cache_dir=cache, source_dir=sources)
    # Execute: change a constant inside the shared module only
    module = sources / "modules" / "cumulative_merkle.vy"
    module.write_text(
        module.read_text().replace(
            "MAX_PROOF_DEPTH: constant(uint256) = 32", "MAX_PROOF_DEPTH: constant(uint256) = 31"
        )
    )
    after = compile_contract("LicenseMarket", cache_dir=cache, source_dir=sources)
    # Assert
    assert before.bytecode != after.bytecode
    assert len(list(cache.glob("LicenseMarket-*.json"))) == 2


def test_an_unknown_contract_suggests_a_close_name(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="Did you mean 'TaskEscrow'"):
        compile_contract("TaskEscrw", cache_dir=tmp_path)


@pytest.mark.parametrize("name", ["../TaskEscrow", "modules/safe_erc20", "", "Task Escrow"])
def test_a_name_that_is_not_an_identifier_is_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        compile_contract(name, cache_dir=tmp_path)


def test_every_source_pins_the_compiler_and_the_compiler_is_safe() -> None:
    """RELIABILITY A4: no compiler with the broken re-entrancy lock (0.2.15, 0.2.16, 0.3.0) builds these."""
    assert vyper.__version__ == "0.4.3"
    for path in [*SOURCES.rglob("*.vy"), *SOURCES.rglob("*.vyi")]:
        first = path.read_text().splitlines()[0]
        assert re.fullmatch(r"# pragma version ~=0\.4\.3", first), path
