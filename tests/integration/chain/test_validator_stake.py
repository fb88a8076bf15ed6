"""Review against the real ValidatorStaking on a local anvil: eligibility by stake, slashing in two steps.

A slashing proposal is recorded on chain as an incident (capped by the contract), open to the
validator's appeal, and executed by the node's chain follower (:meth:`SlashingDesk.sync`) only once the
appeal period is over; an appealed one waits for the arbiter, who is the admin and not the operator.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import IncidentState, TestToken, ValidatorStaking
from datacoop.chain.deploy import APPEAL_PERIOD_S, DEV_TREASURY, Deployment, ensure_deployed, load_deployment
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.db import Database
from datacoop.db.models import SlashingProposal, Validator
from datacoop.errors import Conflict, Forbidden, InvalidInput
from datacoop.identity.eip712 import Eip712Domain
from datacoop.identity.participants import as_caller, get_or_create
from datacoop.review.outcomes import record_gold
from datacoop.review.rules import Qualification
from datacoop.review.service import ReviewService
from datacoop.review.slashing import SlashingDesk
from datacoop.review.stakes import CachedStakes, ChainStakes

UNIT = 10**18
MIN_STAKE = 100 * UNIT


def _stake(
    chain: ChainClient, token: TestToken, staking: ValidatorStaking, who: LocalAccount, amount: int
) -> None:
    """Mint ``amount`` to ``who`` and stake all of it through the contract."""
    chain.send(who, token.mint(who.address, amount).as_tx())
    chain.send(who, token.approve(staking.address, amount).as_tx())
    chain.send(who, staking.stake(amount).as_tx())


def _excluded_with_a_slashing_proposal(db: Database, address: str) -> tuple[int, str]:
    """A staked validator with three wrong gold answers: excluded, with a slashing proposal (id, hash)."""
    now = datetime.now(UTC)
    rules = Qualification(gold_needed=2, exclude_after=3, exclude_below=0.6)
    with db.transaction() as s:
        who = get_or_create(s, address, now)
        s.flush()
        v = Validator(participant_id=who.id, staked=True, qualified=False, excluded=False, reputation=0.5,
                      gold_answered=0, gold_correct=0, decided_votes=0, agreed_votes=0, created_at=now,
                      updated_at=now)  # fmt: skip
        s.add(v)
        s.flush()
        for _ in range(3):
            record_gold(s, v, False, rules, now)
        assert v.excluded
        p = s.scalars(select(SlashingProposal)).one()
        return p.id, p.reason_hash


def _warp(chain: ChainClient, seconds: int) -> None:
    chain.rpc("evm_increaseTime", [seconds])
    chain.rpc("evm_mine", [])


def _desk(
    db: Database, chain: ChainClient, relay: Relay, operator: LocalAccount, d: Deployment
) -> SlashingDesk:
    return SlashingDesk(db, ChainHandle(chain, relay, operator, d), amount=40 * UNIT, poll_s=0)


def test_a_staked_account_is_eligible_until_it_unbonds_below_the_minimum(
    db: Database,
    chain: ChainClient,
    deployment: Deployment,
    token: TestToken,
    accounts: list[LocalAccount],
) -> None:
    # Prepare: a review service reading stakes from the chain
    validator = accounts[2]
    staking = ValidatorStaking(chain, deployment.staking)
    review = ReviewService(
        db,
        Eip712Domain(chain_id=chain.chain_id, verifying_contract=deployment.escrow),
        ChainStakes(chain, deployment.staking),
        min_stake=MIN_STAKE,
        ttl=timedelta(hours=1),
        qualification=Qualification(),
        report=lambda _sid: {},
    )
    with db.transaction() as s:
        row = get_or_create(s, validator.address, datetime.now(UTC))
        s.flush()
        who = as_caller(row, chain.chain_id)
    with pytest.raises(Forbidden):  # nothing staked yet
        review.enrol(who)
    # Execute: stake 150 through the contract
    _stake(chain, token, staking, validator, 150 * UNIT)
    # Assert
    assert review.enrol(who).staked
    # Execute: unbond 60, leaving 90 staked (the 60 stay slashable but no longer count)
    chain.send(validator, staking.request_unbond(60 * UNIT).as_tx())
    assert staking.slashable(validator.address) == 150 * UNIT
    with pytest.raises(Forbidden) as refused:
        review.enrol(who)
    assert refused.value.field == "stake" and "staked now: " + str(90 * UNIT) in refused.value.message


def test_a_slash_is_recorded_then_executed_after_the_appeal_period(
    db: Database,
    chain: ChainClient,
    relay: Relay,
    deployment: Deployment,
    token: TestToken,
    accounts: list[LocalAccount],
) -> None:
    # Prepare: a staked validator whose gold answers are all wrong
    validator, stranger = accounts[3], accounts[5]
    staking = ValidatorStaking(chain, deployment.staking)
    _stake(chain, token, staking, validator, 150 * UNIT)
    proposal_id, evidence = _excluded_with_a_slashing_proposal(db, validator.address)
    desk = _desk(db, chain, relay, accounts[0], deployment)
    # Execute: step 1, the outcome recorded on chain
    assert desk.execute(proposal_id).status == "sent"
    with pytest.raises(Conflict):
        desk.execute(proposal_id)  # never twice
    assert relay.drive(f"incident:{chain.chain_id}:{staking.address}:{proposal_id}").status == "confirmed"
    # Assert: capped at 10 % of the stake, nothing taken yet, not executable by anyone yet
    [recorded] = desk.list()
    assert (recorded.status, recorded.amount) == ("recorded", str(15 * UNIT))
    assert staking.incident(evidence).state is IncidentState.PENDING
    assert not desk.sync() and desk.list()[0].status == "recorded"
    with pytest.raises(Conflict, match="appeal period not over"):
        chain.send(stranger, staking.execute_slash(evidence).as_tx())
    assert (
        ChainStakes(chain, deployment.staking).stake_of(validator.address) == 135 * UNIT
    )  # held: not counted
    # Execute: step 2, after the appeal period, driven by the follower's sync
    _warp(chain, APPEAL_PERIOD_S)
    assert desk.sync()
    assert desk.list()[0].status == "executing"
    assert relay.drive(f"slash:{chain.chain_id}:{staking.address}:{proposal_id}").status == "confirmed"
    # Assert
    [done] = desk.list()
    assert done.status == "confirmed" and done.tx_hash is not None
    assert staking.slashable(validator.address) == 135 * UNIT
    assert (
        token.balance_of(DEV_TREASURY) == 15 * UNIT
    )  # a dev chain names no treasury: burnt, not the operator's
    assert deployment.treasury == DEV_TREASURY != deployment.operator


def test_an_appealed_incident_waits_for_the_admin_not_the_operator(
    db: Database, chain: ChainClient, relay: Relay, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    # Prepare: a deployment whose admin (and arbiter) is not the operator; an incident, appealed
    operator, validator, admin = accounts[0], accounts[3], accounts[4]
    d = ensure_deployed(chain, relay, operator, tmp_path / "d.json", admin=admin.address)
    staking, token = ValidatorStaking(chain, d.staking), TestToken(chain, d.token)
    _stake(chain, token, staking, validator, 150 * UNIT)
    proposal_id, evidence = _excluded_with_a_slashing_proposal(db, validator.address)
    desk = _desk(db, chain, relay, operator, d)
    desk.execute(proposal_id)
    relay.drive(f"incident:{chain.chain_id}:{staking.address}:{proposal_id}")
    chain.send(validator, staking.appeal(evidence).as_tx())
    # Execute: the appeal period passes; the follower does not slash
    _warp(chain, APPEAL_PERIOD_S)
    assert desk.sync()
    assert desk.list()[0].status == "appealed"
    with pytest.raises(Conflict, match="missing role"):
        chain.send(operator, staking.resolve_appeal(evidence, True).as_tx())
    chain.send(admin, staking.resolve_appeal(evidence, False).as_tx())
    assert desk.sync()
    # Assert
    assert desk.list()[0].status == "dismissed"
    assert staking.slashable(validator.address) == 150 * UNIT
    assert (d.admin, d.treasury, d.timelock) == (admin.address, admin.address, "")


def test_the_nodes_own_slashing_drops_the_cached_stake_at_once(
    db: Database,
    chain: ChainClient,
    relay: Relay,
    deployment: Deployment,
    token: TestToken,
    accounts: list[LocalAccount],
) -> None:
    # Prepare: a staked, excluded validator whose stake review has read through an hour-long cache
    validator = accounts[4]
    staking = ValidatorStaking(chain, deployment.staking)
    _stake(chain, token, staking, validator, 150 * UNIT)
    cached = CachedStakes(ChainStakes(chain, deployment.staking), ttl=3600, cache_from=MIN_STAKE)
    assert cached.stake_of(validator.address) == 150 * UNIT
    proposal_id, _evidence = _excluded_with_a_slashing_proposal(db, validator.address)
    handle = ChainHandle(chain, relay, accounts[0], deployment)
    desk = SlashingDesk(db, handle, amount=40 * UNIT, on_slashed=cached.invalidate, poll_s=0)
    # Execute: the incident is queued, a read caches the stake before it lands, then it is confirmed
    desk.execute(proposal_id)
    relay.drive(f"incident:{chain.chain_id}:{staking.address}:{proposal_id}")
    assert cached.stake_of(validator.address) == 150 * UNIT  # cached, the hold not seen yet
    desk.refresh()
    # Assert: read afresh, long before the hour is up: what the incident holds no longer counts
    assert cached.stake_of(validator.address) == 135 * UNIT
    # Execute / Assert: the slash itself, after the appeal period, leaves the same stake counted
    _warp(chain, APPEAL_PERIOD_S)
    desk.sync()
    relay.drive(f"slash:{chain.chain_id}:{staking.address}:{proposal_id}")
    desk.refresh()
    assert cached.stake_of(validator.address) == 135 * UNIT == staking.slashable(validator.address)


def test_a_timelocked_deployment_hands_every_admin_role_to_the_timelock(
    chain: ChainClient, relay: Relay, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    # Prepare / Execute
    operator, multisig = accounts[0], accounts[5]
    path = tmp_path / "deployment.json"
    d = ensure_deployed(chain, relay, operator, path, admin=multisig.address, timelock_delay_s=3600)
    # Assert: roles
    assert d.timelock and d.admin == d.timelock == d.treasury
    admin_role = b"\0" * 32
    for name, address in (
        ("TaskEscrow", d.escrow),
        ("LicenseMarket", d.market),
        ("ValidatorStaking", d.staking),
    ):
        roles = chain.contract(name, address).functions
        assert roles.hasRole(admin_role, d.timelock).call(), name
        assert not roles.hasRole(admin_role, operator.address).call(), name
    staking = chain.contract("ValidatorStaking", d.staking).functions
    assert staking.hasRole(staking.ARBITER_ROLE().call(), d.timelock).call()
    assert not staking.hasRole(staking.ARBITER_ROLE().call(), operator.address).call()
    # Assert: a fee change waits for the delay on a real chain too
    market = chain.contract("LicenseMarket", d.market)
    timelock = chain.contract("TimelockController", d.timelock).functions
    call = (
        d.market,
        0,
        bytes.fromhex(market.encode_abi("setOperatorFee", args=[600])[2:]),
        b"\0" * 32,
        b"\1" * 32,
    )
    chain.send(
        multisig, {"to": d.timelock, "data": timelock.schedule(*call, 3600)._encode_transaction_data()}
    )
    execute = {"to": d.timelock, "data": timelock.execute(*call)._encode_transaction_data()}
    with pytest.raises(Conflict, match="not ready"):
        chain.send(multisig, execute)
    _warp(chain, 3600)
    chain.send(multisig, execute)
    assert market.functions.operatorFeeBps().call() == 600
    # Assert: the file records the roles, and a second start finds the same deployment
    assert json.loads(path.read_text())["timelock"] == d.timelock
    assert ensure_deployed(chain, relay, operator, path) == d


def test_a_deployment_file_from_before_the_roles_still_loads(tmp_path: Path) -> None:
    names = ("operator", "token", "escrow", "registry", "market", "staking")
    old = {"chain_id": 31337} | {name: "0x" + f"{i + 1}" * 40 for i, name in enumerate(names)}
    (tmp_path / "deployment.json").write_text(json.dumps(old))
    loaded = load_deployment(tmp_path / "deployment.json")
    assert loaded is not None and (loaded.admin, loaded.treasury, loaded.timelock) == ("", "", "")
    assert "timelock" not in loaded.addresses()


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"timelock_delay_s": 3600}, "admin"),
        ({"treasury": "operator"}, "treasury"),
        ({"admin": "0x12"}, "admin"),
    ],
)
def test_a_deployment_that_would_leave_the_operator_in_charge_is_refused(
    chain: ChainClient,
    relay: Relay,
    accounts: list[LocalAccount],
    tmp_path: Path,
    kw: dict[str, object],
    field: str,
) -> None:
    """A timelock needs a proposer other than the operator; slashed stake never goes to the operator."""
    if kw.get("treasury") == "operator":
        kw = {"treasury": accounts[0].address}
    with pytest.raises(InvalidInput) as refused:
        ensure_deployed(chain, relay, accounts[0], tmp_path / "d.json", **kw)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert not (tmp_path / "d.json").exists()
