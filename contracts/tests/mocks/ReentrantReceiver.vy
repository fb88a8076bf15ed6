# pragma version ~=0.4.3
"""
@title ERC-721 receiver that re-enters the market (test only)
@license AGPL-3.0-only
@notice Buys licences (or receives dataset tokens); in `onERC721Received`
        it calls `target` with `payload` once (e.g. another `buy`) and records
        whether that call succeeded, then accepts the token.
"""
from ethereum.ercs import IERC20

target: public(address)
payload: public(Bytes[2048])
armed: public(bool)
reentered: public(bool)
reentrySucceeded: public(bool)
received: public(uint256)


@external
def arm(target: address, payload: Bytes[2048]):
    self.target = target
    self.payload = payload
    self.armed = True


@external
def approveToken(token: address, spender: address, amount: uint256):
    extcall IERC20(token).approve(spender, amount)


@external
def execute(target: address, payload: Bytes[2048]) -> Bytes[256]:
    return raw_call(target, payload, max_outsize=256)


@external
def onERC721Received(operator: address, owner: address, token_id: uint256, data: Bytes[1024]) -> bytes4:
    self.received += 1
    if self.armed:
        self.armed = False
        self.reentered = True
        self.reentrySucceeded = raw_call(self.target, self.payload, revert_on_failure=False)
    return method_id("onERC721Received(address,address,uint256,bytes)", output_type=bytes4)
