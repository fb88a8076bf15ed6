"""Named networks DataCoop deploys to: chain id, confirmation depth and EIP-1559 fee policy.

The RPC URL is never part of a profile: it comes from the user (it often carries an API key).
A profile's chain id is checked against the endpoint's ``eth_chainId`` before anything is signed,
so a URL pointing at another chain (mainnet, say) is refused rather than paid on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from datacoop.errors import InvalidInput, NotFound, did_you_mean

__all__ = ["NETWORKS", "FeePolicy", "Network", "gwei", "network_for"]

GWEI = 10**9


def gwei(amount: float) -> int:
    """Wei in ``amount`` gwei (fractions allowed: L2 tips are often below one gwei)."""
    return round(amount * GWEI)


@dataclass(frozen=True)
class FeePolicy:
    """How the outbox prices a transaction (EIP-1559).

    Attributes:
        priority_fee: the tip, in wei.
        max_fee_cap: the most ``maxFeePerGas`` may ever be, in wei (None: no cap). A bump never
            passes it; a transaction priced at the cap waits for the base fee to fall.
        base_fee_multiplier: ``maxFeePerGas`` starts at this many times the latest base fee plus
            the tip, so a few full blocks in a row do not strand it.
    """

    priority_fee: int = GWEI
    max_fee_cap: int | None = None
    base_fee_multiplier: int = 2

    def initial(self, base_fee: int) -> tuple[int, int]:
        """``(maxFeePerGas, maxPriorityFeePerGas)`` for a new transaction."""
        max_fee = self.base_fee_multiplier * base_fee + self.priority_fee
        if self.max_fee_cap is not None:
            max_fee = min(max_fee, self.max_fee_cap)
        return max_fee, min(self.priority_fee, max_fee)

    def bump(self, max_fee: int, priority_fee: int) -> tuple[int, int] | None:
        """Fees for a replacement (+25 % each, above every client's 10 % rule), or None at the cap."""
        new_max, new_tip = max_fee * 5 // 4 + 1, priority_fee * 5 // 4 + 1
        if self.max_fee_cap is not None:
            if max_fee >= self.max_fee_cap or self.max_fee_cap < max_fee * 11 // 10 + 1:
                return None  # a replacement under the cap would not clear the 10 % rule
            new_max = min(new_max, self.max_fee_cap)
        return new_max, min(new_tip, new_max)


@dataclass(frozen=True)
class Network:
    """One chain DataCoop can deploy to."""

    name: str
    chain_id: int
    confirmations: int
    fees: FeePolicy


NETWORKS: dict[str, Network] = {
    # anvil mines at once and never reorgs: one confirmation is final.
    "anvil": Network("anvil", 31337, 1, FeePolicy()),
    # Sepolia: 12 s blocks; 3 blocks ride out the short reorgs a testnet still sees.
    "sepolia": Network("sepolia", 11_155_111, 3, FeePolicy(priority_fee=gwei(1), max_fee_cap=gwei(200))),
    # Base Sepolia (OP stack): 2 s blocks, tips of a fraction of a gwei; 10 blocks is ~20 s.
    "base-sepolia": Network(
        "base-sepolia", 84_532, 10, FeePolicy(priority_fee=gwei(0.01), max_fee_cap=gwei(10))
    ),
}


def network_for(
    name: str | None,
    *,
    chain_id: int | None = None,
    confirmations: int | None = None,
    max_fee_gwei: float | None = None,
    priority_fee_gwei: float | None = None,
) -> Network:
    """The named profile (or a custom one from ``chain_id``), with any value the user gave instead.

    Raises:
        NotFound: no profile of that name (the message suggests a close one).
        InvalidInput: neither a name nor a chain id, a chain id that contradicts the profile's,
            or a number out of range (each names its option).
    """
    if name is not None:
        if name not in NETWORKS:
            raise NotFound(f"no network {name!r}.{did_you_mean(name, list(NETWORKS))}", field="network")
        network = NETWORKS[name]
        if chain_id is not None and chain_id != network.chain_id:
            raise InvalidInput(
                f"network {name} has chain id {network.chain_id}, not {chain_id}", field="chain_id"
            )
    elif chain_id is None:
        raise InvalidInput("give --network NAME, or --rpc-url with --chain-id", field="chain_id")
    else:
        if chain_id <= 0:
            raise InvalidInput("chain_id must be positive", field="chain_id", limit=1)
        network = Network("custom", chain_id, 1, FeePolicy())
    return _override(network, confirmations, max_fee_gwei, priority_fee_gwei)


def _override(
    network: Network, confirmations: int | None, max_fee_gwei: float | None, priority_fee_gwei: float | None
) -> Network:
    if confirmations is not None and not 1 <= confirmations <= 1000:
        raise InvalidInput("confirmations must be between 1 and 1000", field="confirmations", limit=1000)
    for field, value in (("max_fee_gwei", max_fee_gwei), ("priority_fee_gwei", priority_fee_gwei)):
        if value is not None and not 0 <= value <= 100_000:
            raise InvalidInput(f"{field} must be between 0 and 100000 gwei", field=field, limit=100_000)
    fees = network.fees
    if priority_fee_gwei is not None:
        fees = replace(fees, priority_fee=gwei(priority_fee_gwei))
    if max_fee_gwei is not None:
        fees = replace(fees, max_fee_cap=gwei(max_fee_gwei))
    if fees.max_fee_cap is not None and fees.priority_fee > fees.max_fee_cap:
        raise InvalidInput(
            "priority_fee_gwei must not exceed max_fee_gwei",
            field="priority_fee_gwei",
            limit=fees.max_fee_cap,
        )
    return replace(network, confirmations=confirmations or network.confirmations, fees=fees)
