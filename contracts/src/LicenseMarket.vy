# pragma version ~=0.4.3
"""
@title DataCoop licence market
@custom:contract-name LicenseMarket
@license AGPL-3.0-only
@notice Sells licences to dataset versions. The owner of a dataset token
        (DatasetRegistry) lists one of its versions with an ERC-20 price,
        a licence-terms hash, a duration and a royalty share; a listing's
        terms never change afterwards (the owner may only pause and resume
        it). A buyer pays and receives a licence token (an ERC-721 of this
        contract, ids 1, 2, ...) that expires `duration` seconds later.

        Revenue split of each sale, in basis points of what arrived:
        royalty = amount * royaltyBps // 10000 goes to the listing's royalty
        pool; fee = amount * operatorFeeBps // 10000 to the fee recipient;
        the publisher (the dataset token's owner at the time of the sale)
        gets the rest, rounding remainder included. The three always add
        up to the amount paid. The operator fee is snapshotted per listing
        when it is listed; the admin may change it for later listings, up
        to MAX_OPERATOR_FEE_BPS.

        Royalty pools are cumulative Merkle pools (the same module as
        TaskEscrow): the operator posts roots of the contributors'
        cumulative royalties, whose total never exceeds the royalties
        credited to the pool, and contributors claim with a proof. Pools
        never close.

        Every state-changing function holds the contract-wide lock; `buy`
        mints the licence last, after every payment.
"""

from snekmate.auth import access_control
from snekmate.auth import ownable
from snekmate.tokens import erc721
from .interfaces import IDatasetRegistry
from .modules import cumulative_merkle
from .modules import safe_erc20

initializes: access_control
initializes: ownable
initializes: erc721[ownable := ownable]
initializes: cumulative_merkle

exports: (
    access_control.hasRole,
    access_control.getRoleAdmin,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    access_control.DEFAULT_ADMIN_ROLE,
    erc721.balanceOf,
    erc721.ownerOf,
    erc721.approve,
    erc721.getApproved,
    erc721.setApprovalForAll,
    erc721.isApprovedForAll,
    erc721.transferFrom,
    erc721.safeTransferFrom,
    erc721.supportsInterface,
    erc721.name,
    erc721.symbol,
    erc721.tokenURI,
    erc721.totalSupply,
    erc721.tokenByIndex,
    erc721.tokenOfOwnerByIndex,
    erc721.permit,
    erc721.nonces,
    erc721.DOMAIN_SEPARATOR,
    erc721.eip712Domain,
    cumulative_merkle.claimed,
)

# @dev Role allowed to post royalty roots.
OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")

BPS: public(constant(uint256)) = 10_000
MAX_OPERATOR_FEE_BPS: public(constant(uint256)) = 1_000
MAX_DURATION: public(constant(uint256)) = 100 * 365 * 86_400

# @dev Royalty pools never close.
_NEVER: constant(uint256) = 2**64 - 1


struct Listing:
    datasetTokenId: uint256
    version: uint256
    token: address
    price: uint256
    termsHash: bytes32
    duration: uint256
    royaltyBps: uint256
    operatorFeeBps: uint256
    active: bool


# @dev What `licenceOf` returns: all the off-chain gate checks.
struct LicenceView:
    holder: address
    listingId: uint256
    datasetTokenId: uint256
    version: uint256
    termsHash: bytes32
    expires: uint256


struct RoyaltyPool:
    token: address
    credited: uint256
    total: uint256
    paid: uint256
    epoch: uint256
    root: bytes32


event Listed:
    listingId: indexed(uint256)
    datasetTokenId: indexed(uint256)
    version: uint256
    token: address
    price: uint256
    termsHash: bytes32
    duration: uint256
    royaltyBps: uint256
    operatorFeeBps: uint256


event ListingActiveSet:
    listingId: indexed(uint256)
    active: bool


event LicenceSold:
    listingId: indexed(uint256)
    licenceId: indexed(uint256)
    buyer: indexed(address)
    amount: uint256
    royalty: uint256
    publisherShare: uint256
    operatorFee: uint256
    expires: uint256


event RoyaltyRootPosted:
    listingId: indexed(uint256)
    epoch: indexed(uint256)
    root: bytes32
    total: uint256


event RoyaltyClaimed:
    listingId: indexed(uint256)
    account: indexed(address)
    amount: uint256
    cumulativeAmount: uint256


event OperatorFeeSet:
    operatorFeeBps: uint256


event FeeRecipientSet:
    feeRecipient: indexed(address)


registry: public(immutable(IDatasetRegistry))
operatorFeeBps: public(uint256)
feeRecipient: public(address)
listingCount: public(uint256)
licenceCount: public(uint256)
listings: public(HashMap[uint256, Listing])

# @dev Per licence, one word: listing id (bits 64-255) | expiry (bits 0-63).
_licences: HashMap[uint256, uint256]

_LOW_64: constant(uint256) = 2**64 - 1


@deploy
def __init__(registry_: address, operator: address, fee_recipient: address, operator_fee_bps: uint256):
    """
    @dev The deployer becomes admin; `operator` posts royalty roots; fees
         of `operator_fee_bps` (at most MAX_OPERATOR_FEE_BPS) go to `fee_recipient`.
    """
    access_control.__init__()
    ownable.__init__()
    erc721.__init__("DataCoop Licence", "DCLIC", "", "DataCoop Licence", "1")
    assert registry_ != empty(address), "LicenseMarket: registry is zero"
    assert operator != empty(address), "LicenseMarket: operator is zero"
    registry = IDatasetRegistry(registry_)
    access_control._grant_role(OPERATOR_ROLE, operator)
    self._set_fee_recipient(fee_recipient)
    self._set_operator_fee(operator_fee_bps)


@external
@nonreentrant
def list(
    datasetTokenId: uint256,
    version: uint256,
    token: address,
    price: uint256,
    termsHash: bytes32,
    duration: uint256,
    royaltyBps: uint256,
) -> uint256:
    """
    @dev Lists version `version` of dataset `datasetTokenId`; the dataset
         owner only. Returns the listing id (also its royalty pool's id).
    """
    assert staticcall registry.ownerOf(datasetTokenId) == msg.sender, "LicenseMarket: not the dataset owner"
    assert version != 0 and version <= staticcall registry.versionCount(datasetTokenId), "LicenseMarket: no such version"
    assert price != 0, "LicenseMarket: price is zero"
    assert termsHash != empty(bytes32), "LicenseMarket: terms hash is zero"
    assert duration != 0 and duration <= MAX_DURATION, "LicenseMarket: bad duration"
    fee_bps: uint256 = self.operatorFeeBps
    assert royaltyBps + fee_bps <= BPS, "LicenseMarket: shares above 100%"

    listing_id: uint256 = self.listingCount + 1
    self.listingCount = listing_id
    self.listings[listing_id] = Listing(
        datasetTokenId=datasetTokenId,
        version=version,
        token=token,
        price=price,
        termsHash=termsHash,
        duration=duration,
        royaltyBps=royaltyBps,
        operatorFeeBps=fee_bps,
        active=True,
    )
    # Also rejects the zero token.
    cumulative_merkle._open(listing_id, token, _NEVER)
    log Listed(
        listingId=listing_id,
        datasetTokenId=datasetTokenId,
        version=version,
        token=token,
        price=price,
        termsHash=termsHash,
        duration=duration,
        royaltyBps=royaltyBps,
        operatorFeeBps=fee_bps,
    )
    return listing_id


@external
@nonreentrant
def setListingActive(listingId: uint256, active: bool):
    """
    @dev Pauses or resumes a listing; the dataset's current owner only.
    """
    dataset_id: uint256 = self.listings[listingId].datasetTokenId
    assert dataset_id != 0, "LicenseMarket: unknown listing"
    assert staticcall registry.ownerOf(dataset_id) == msg.sender, "LicenseMarket: not the dataset owner"
    self.listings[listingId].active = active
    log ListingActiveSet(listingId=listingId, active=active)


@external
@nonreentrant
def buy(listingId: uint256) -> uint256:
    """
    @dev Buys a licence of listing `listingId` for its price (approved
         beforehand) and returns the licence id. The licence token is
         minted to the caller last, after every payment.
    """
    # Field by field: a whole-struct read would load the two fields a sale never needs.
    assert self.listings[listingId].active, "LicenseMarket: listing not active"
    token: address = self.listings[listingId].token
    royalty_bps: uint256 = self.listings[listingId].royaltyBps
    fee_bps: uint256 = self.listings[listingId].operatorFeeBps

    received: uint256 = safe_erc20._pull(token, msg.sender, self.listings[listingId].price)
    assert received != 0, "LicenseMarket: nothing received"
    royalty: uint256 = received * royalty_bps // BPS
    fee: uint256 = received * fee_bps // BPS
    # royaltyBps + operatorFeeBps <= BPS, so royalty + fee <= received.
    publisher_share: uint256 = received - royalty - fee
    publisher: address = staticcall registry.ownerOf(self.listings[listingId].datasetTokenId)

    licence_id: uint256 = self.licenceCount + 1
    self.licenceCount = licence_id
    expires: uint256 = block.timestamp + self.listings[listingId].duration
    self._licences[licence_id] = (listingId << 64) | expires
    if royalty != 0:
        cumulative_merkle._fund(listingId, royalty)
    log LicenceSold(
        listingId=listingId,
        licenceId=licence_id,
        buyer=msg.sender,
        amount=received,
        royalty=royalty,
        publisherShare=publisher_share,
        operatorFee=fee,
        expires=expires,
    )

    if publisher_share != 0:
        safe_erc20._transfer(token, publisher, publisher_share)
    if fee != 0:
        safe_erc20._transfer(token, self.feeRecipient, fee)
    erc721._safe_mint(msg.sender, licence_id, b"")
    return licence_id


@external
@nonreentrant
def postRoyaltyRoot(listingId: uint256, epoch: uint256, root: bytes32, total: uint256):
    """
    @dev Posts the root of the cumulative royalties of listing `listingId`;
         operator only. `total` never decreases nor exceeds the royalties credited.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    cumulative_merkle._post_root(listingId, epoch, root, total)
    log RoyaltyRootPosted(listingId=listingId, epoch=epoch, root=root, total=total)


@external
@nonreentrant
def claimRoyalty(
    listingId: uint256,
    account: address,
    cumulativeAmount: uint256,
    proof: DynArray[bytes32, cumulative_merkle.MAX_PROOF_DEPTH],
):
    """
    @dev Pays `account` its cumulative royalty `cumulativeAmount` from
         listing `listingId` minus what it was already paid.
    """
    amount: uint256 = cumulative_merkle._claim(listingId, account, cumulativeAmount, proof)
    log RoyaltyClaimed(listingId=listingId, account=account, amount=amount, cumulativeAmount=cumulativeAmount)


@external
@nonreentrant
def setOperatorFee(bps: uint256):
    """
    @dev Sets the operator fee for listings made from now on; admin only.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    self._set_operator_fee(bps)


@external
@nonreentrant
def setFeeRecipient(recipient: address):
    """
    @dev Sets who receives operator fees; admin only.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    self._set_fee_recipient(recipient)


@external
@view
def licenceExpires(licenceId: uint256) -> uint256:
    """
    @dev When licence `licenceId` expires (unix seconds; 0 if unknown). The
         licence grants access while block time < expires.
    """
    return self._licences[licenceId] & _LOW_64


@external
@view
def licenceOf(licenceId: uint256) -> LicenceView:
    """
    @dev Holder, listing, dataset version, terms and expiry of a licence
         (all zero if unknown). Read it at request time; never cache it.
    """
    packed: uint256 = self._licences[licenceId]
    listing: Listing = self.listings[packed >> 64]
    return LicenceView(
        holder=erc721._owners[licenceId],
        listingId=packed >> 64,
        datasetTokenId=listing.datasetTokenId,
        version=listing.version,
        termsHash=listing.termsHash,
        expires=packed & _LOW_64,
    )


@external
@view
def isLicenceValid(licenceId: uint256, holder: address) -> bool:
    """
    @dev Whether `holder` owns licence `licenceId` and it has not expired.
    """
    return erc721._owners[licenceId] == holder and block.timestamp < self._licences[licenceId] & _LOW_64


@external
@view
def royaltyPool(listingId: uint256) -> RoyaltyPool:
    """
    @dev The royalty pool of listing `listingId`.
    """
    return RoyaltyPool(
        token=cumulative_merkle._token(listingId),
        credited=cumulative_merkle._funded(listingId),
        total=cumulative_merkle._total(listingId),
        paid=cumulative_merkle._paid(listingId),
        epoch=cumulative_merkle._epoch(listingId),
        root=cumulative_merkle._root(listingId),
    )


@internal
def _set_operator_fee(bps: uint256):
    assert bps <= MAX_OPERATOR_FEE_BPS, "LicenseMarket: operator fee above cap"
    self.operatorFeeBps = bps
    log OperatorFeeSet(operatorFeeBps=bps)


@internal
def _set_fee_recipient(recipient: address):
    assert recipient != empty(address), "LicenseMarket: fee recipient is zero"
    self.feeRecipient = recipient
    log FeeRecipientSet(feeRecipient=recipient)
