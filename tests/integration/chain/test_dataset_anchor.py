"""A dataset version anchored in DatasetRegistry on a real anvil through the outbox, and checked there."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from tests.unit.datasets.conftest import Accepted
from typer.testing import CliRunner

from datacoop.app import Node
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import DatasetRegistry
from datacoop.chain.deploy import Deployment
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.cli import app
from datacoop.client import DataCoopClient
from datacoop.datasets.anchor import chain_record, created_token_id
from datacoop.datasets.manifest import Manifest
from datacoop.datasets.service import DatasetService
from datacoop.datasets.verify import verify_manifest
from datacoop.tasks.schemas import TaskPublic


def _service(
    node: Node, chain: ChainClient, relay: Relay, operator: LocalAccount, deployment: Deployment
) -> DatasetService:
    handle = ChainHandle(chain, relay, operator, deployment)
    return DatasetService(node.db, node.store, node.blobs, node.eip712, chain=handle)


def test_a_version_is_anchored_and_a_root_differing_on_chain_is_caught(
    node: Node,
    task: TaskPublic,
    contributor: DataCoopClient,
    chain: ChainClient,
    relay: Relay,
    deployment: Deployment,
    accounts: list[LocalAccount],
) -> None:
    # Prepare
    Accepted(node, task, contributor, []).add(2)
    service = _service(node, chain, relay, accounts[0], deployment)
    registry = DatasetRegistry(chain, deployment.registry)
    dataset = service.create(None, "masks", {"task_ids": [task.id]})
    pending = service.create_version(dataset.id)
    assert pending.anchor.status == "pending"
    # Execute
    anchored = service.anchor(pending.id, timeout=60)
    # Assert: confirmed, and the registry holds exactly the manifest's CID, root and count
    assert (
        anchored.anchor.status == "confirmed"
        and anchored.anchor.tx_hash
        and anchored.anchor.chain_version == 1
    )
    assert anchored.anchor.token_id is not None
    token_id = int(anchored.anchor.token_id)
    data = service.manifest_bytes(pending.id)
    record = chain_record(registry, token_id, anchored.manifest_cid, 1)
    assert verify_manifest(data, chain=record).ok

    # Execute: a second token whose record has the same manifest CID but another root
    mint = registry.create_dataset(accounts[0].address)
    minted = relay.drive(relay.submit("test:mint-forged", to=mint.to, data=mint.data).key)
    forged_token = created_token_id(chain, registry, minted.tx_hash or "")
    assert forged_token is not None and forged_token != token_id
    wrong_root = "0x" + "11" * 32
    publish = registry.publish_version(forged_token, anchored.manifest_cid, wrong_root, anchored.item_count)
    assert (
        relay.drive(relay.submit("test:publish-forged", to=publish.to, data=publish.data).key).status
        == "confirmed"
    )
    report = verify_manifest(data, chain=chain_record(registry, forged_token, anchored.manifest_cid, 1))
    # Assert
    assert [(c.name, c.detail.split(" on chain")[0]) for c in report.failures] == [("chain", "items root")]

    # And the CLI says so with a non-zero exit, from the manifest file alone
    manifest_file = node.settings.data_dir / "manifest.json"
    manifest_file.write_bytes(data)
    args = [
        "dataset",
        "verify",
        str(manifest_file),
        "--rpc",
        chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "--registry",
        deployment.registry,
    ]
    good = CliRunner().invoke(app, [*args, "--token-id", str(token_id)])
    assert good.exit_code == 0, good.output
    bad = CliRunner().invoke(app, [*args, "--token-id", str(forged_token)])
    assert bad.exit_code == 6 and "items root" in bad.output
    assert Manifest.from_bytes(data).items_root == anchored.items_root
