# pragma version ~=0.4.3
"""
@title ERC-20 that calls back into a target during transfers (test only)
@license AGPL-3.0-only
@notice Stands for an ERC-777-style hook or a malicious token. When armed,
        `transfer`/`transferFrom` first move the tokens, then call `target`
        with `payload` (e.g. an encoded `claim` or `refund`). The outcome is
        recorded in `reentered` (attempted) and `reentrySucceeded`; with
        `bubble` set a failed call makes the whole transfer revert.
"""
from . import token_base

initializes: token_base

exports: (token_base.balanceOf, token_base.allowance, token_base.totalSupply)

target: public(address)
payload: public(Bytes[2048])
armed: public(bool)
bubble: public(bool)
reentered: public(bool)
reentrySucceeded: public(bool)


@external
def mint(to: address, amount: uint256):
    token_base._mint(to, amount)


@external
def arm(target: address, payload: Bytes[2048], bubble: bool):
    self.target = target
    self.payload = payload
    self.bubble = bubble
    self.armed = True
    self.reentered = False
    self.reentrySucceeded = False


@external
def approve(spender: address, amount: uint256) -> bool:
    token_base._approve(msg.sender, spender, amount)
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    token_base._move(msg.sender, msg.sender, to, amount, False)
    self._call_back()
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    token_base._move(owner, msg.sender, to, amount, True)
    self._call_back()
    return True


@internal
def _call_back():
    if not self.armed:
        return
    self.armed = False  # once per arming
    self.reentered = True
    if self.bubble:
        raw_call(self.target, self.payload)
        self.reentrySucceeded = True
    else:
        self.reentrySucceeded = raw_call(self.target, self.payload, revert_on_failure=False)
