"""`datacoop deploy`: DataCoop's contracts on a named network, or attach to (and verify) them."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from datacoop.cli._common import DEFAULT_DATA_DIR, DataDirOpt, console, reports_errors
from datacoop.deploying import DeployPlan, deploy, network_for, summary
from datacoop.errors import InvalidInput
from datacoop.settings import Settings

__all__ = ["register"]


def _settings(**overrides: object) -> Settings:
    """The environment's settings with the command's options on top (a refusal names its setting)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def _prompt(question: str) -> str:
    if not sys.stdin.isatty():  # nobody to ask: say which setting would have answered
        raise InvalidInput(
            "no terminal to ask the keystore password: pass --password-file", field="operator_password_file"
        )
    return getpass.getpass(question)


@reports_errors
def deploy_command(
    rpc_url: Annotated[
        str, typer.Option(envvar="DATACOOP_RPC_URL", help="the network's JSON-RPC endpoint (yours)")
    ],
    network: Annotated[
        str | None, typer.Option(help="a profile: anvil, sepolia, base-sepolia (or give --chain-id)")
    ] = None,
    chain_id: Annotated[int | None, typer.Option(help="the chain id the endpoint must serve")] = None,
    confirmations: Annotated[int | None, typer.Option(help="blocks each transaction waits")] = None,
    max_fee_gwei: Annotated[float | None, typer.Option(help="cap on maxFeePerGas, in gwei")] = None,
    priority_fee_gwei: Annotated[float | None, typer.Option(help="maxPriorityFeePerGas, in gwei")] = None,
    keystore: Annotated[Path | None, typer.Option(help="the deployer's scrypt keystore file")] = None,
    password_file: Annotated[
        Path | None, typer.Option(help="file holding the keystore's password (default: prompt)")
    ] = None,
    admin: Annotated[
        str | None, typer.Option(help="admin of the contracts (a multisig); required in production")
    ] = None,
    treasury: Annotated[
        str | None, typer.Option(help="receives slashed stake and fees (default: timelock, else admin)")
    ] = None,
    timelock_delay: Annotated[
        int | None, typer.Option(help="seconds an admin change waits (a TimelockController becomes admin)")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="an existing ERC-20 (staking, default task token); default: TestToken")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="deployment file (default: <data-dir>/chain/deployment.json)")
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="print the deployment as JSON")] = False,
) -> None:
    """Deploy DataCoop's contracts, or attach to the ones in the deployment file after verifying
    their bytecode; `datacoop up` then reads that file (DATACOOP_DEPLOYMENT_FILE)."""
    profile = network_for(
        network,
        chain_id=chain_id,
        confirmations=confirmations,
        max_fee_gwei=max_fee_gwei,
        priority_fee_gwei=priority_fee_gwei,
    )
    settings = _settings(
        data_dir=data_dir,
        operator_keystore=keystore,
        operator_password_file=password_file,
        deployment_file=out,
    )
    plan = DeployPlan(
        rpc_url=rpc_url,
        network=profile,
        out=settings.resolved_deployment_file,
        admin=admin,
        treasury=treasury,
        timelock_delay_s=timelock_delay,
        token=token,
    )
    report = deploy(settings, plan, prompt=_prompt)
    if as_json:
        console.print_json(summary(report))
        return
    verb = "attached to (bytecode verified)" if report.attached else "deployed"
    console.print(
        f"{verb} DataCoop on {profile.name} (chain {profile.chain_id}); "
        f"{report.transactions} transactions sent"
    )
    for name, address in report.deployment.addresses().items():
        console.print(f"  {name:16} {address}")
    console.print(f"deployment file: {report.path}")


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_command)
