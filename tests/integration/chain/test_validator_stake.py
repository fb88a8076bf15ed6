"""Review against the real ValidatorStaking on a local anvil: eligibility by stake, slashing executed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TestToken, ValidatorStaking
from datacoop.chain.deploy import Deployment
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.db import Database
from datacoop.db.models import SlashingProposal, Validator
from datacoop.errors import Conflict, Forbidden
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


def _excluded_with_a_slashing_proposal(db: Database, address: str) -> int:
    """A staked validator with three wrong gold answers: excluded, with a slashing proposal (its id)."""
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
        return int(s.scalars(select(SlashingProposal.id)).one())


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


def test_a_slashing_proposal_is_executed_once_through_the_outbox(
    db: Database,
    chain: ChainClient,
    relay: Relay,
    deployment: Deployment,
    token: TestToken,
    accounts: list[LocalAccount],
) -> None:
    # Prepare: a staked validator whose gold answers are all wrong
    validator = accounts[3]
    staking = ValidatorStaking(chain, deployment.staking)
    _stake(chain, token, staking, validator, 150 * UNIT)
    proposal_id = _excluded_with_a_slashing_proposal(db, validator.address)
    handle = ChainHandle(chain, relay, accounts[0], deployment)
    desk = SlashingDesk(db, handle, amount=40 * UNIT)
    # Execute
    sent = desk.execute(proposal_id)
    assert sent.status == "sent"
    with pytest.raises(Conflict):
        desk.execute(proposal_id)  # never twice
    key = f"slash:{chain.chain_id}:{staking.address}:{proposal_id}"
    assert relay.drive(key).status == "confirmed"
    # Assert
    [done] = desk.list()
    assert done.status == "confirmed" and done.tx_hash is not None
    assert staking.slashable(validator.address) == 110 * UNIT


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
    proposal_id = _excluded_with_a_slashing_proposal(db, validator.address)
    desk = SlashingDesk(
        db, ChainHandle(chain, relay, accounts[0], deployment), amount=40 * UNIT, on_slashed=cached.invalidate
    )
    # Execute: the slash is queued, a read caches the stake before it lands, then it is confirmed
    desk.execute(proposal_id)
    assert cached.stake_of(validator.address) == 150 * UNIT  # not on chain yet
    relay.drive(f"slash:{chain.chain_id}:{staking.address}:{proposal_id}")
    desk.refresh()
    # Assert: read afresh, long before the hour is up
    assert cached.stake_of(validator.address) == 110 * UNIT
