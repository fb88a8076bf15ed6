# pragma version ~=0.4.3
"""
@title DataCoop dataset registry
@custom:contract-name DatasetRegistry
@license AGPL-3.0-only
@notice One ERC-721 token per dataset (ids 1, 2, ...), owned by its
        publisher, with an append-only list of versions. A version is
        immutable once published: its manifest CID, the Merkle root of its
        items and their count. Versions are numbered from 1.

        `createDataset(publisher)` may be called by the publisher itself or
        by the registry's owner (the node, acting for a publisher who holds
        no gas). Only the token's current owner publishes versions.
        `tokenURI` is `ipfs://` + the manifest CID of the latest version
        (empty before the first version).
"""

from snekmate.auth import ownable
from snekmate.tokens import erc721

initializes: ownable
initializes: erc721[ownable := ownable]

# The ERC-721 surface without snekmate's own minting and burning: datasets are
# created only through `createDataset` and never destroyed.
exports: (
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
    erc721.owner,
    erc721.transfer_ownership,
)

# @dev Longest manifest CID accepted (a CIDv1 in base32 is 59 characters).
MAX_CID_LENGTH: constant(uint256) = 100


struct Version:
    manifestCid: String[MAX_CID_LENGTH]
    itemsRoot: bytes32
    itemCount: uint256
    publishedAt: uint256


event DatasetCreated:
    tokenId: indexed(uint256)
    publisher: indexed(address)


event VersionPublished:
    tokenId: indexed(uint256)
    version: indexed(uint256)
    manifestCid: String[MAX_CID_LENGTH]
    itemsRoot: bytes32
    itemCount: uint256


event AuditAnchored:
    seq: indexed(uint256)
    head: bytes32


# @dev The node's audit log, anchored: the hash of its entry `seq` (its head
#      when anchored). Anchors only move forward and are never rewritten.
auditAnchors: public(HashMap[uint256, bytes32])

# @dev The sequence number of the latest anchored audit-log entry.
lastAuditSeq: public(uint256)

# @dev Number of datasets created; the last token id.
datasetCount: public(uint256)

# @dev Number of versions of a dataset; versions are 1 .. versionCount.
versionCount: public(HashMap[uint256, uint256])

_versions: HashMap[uint256, HashMap[uint256, Version]]


@deploy
def __init__():
    ownable.__init__()
    erc721.__init__("DataCoop Dataset", "DCDS", "", "DataCoop Dataset", "1")


@external
@nonreentrant
def createDataset(publisher: address) -> uint256:
    """
    @dev Mints the token of a new dataset to `publisher`; called by the
         publisher itself or by the owner. Returns the token id.
    """
    assert msg.sender == publisher or msg.sender == ownable.owner, "DatasetRegistry: not publisher or owner"
    token_id: uint256 = self.datasetCount + 1
    self.datasetCount = token_id
    log DatasetCreated(tokenId=token_id, publisher=publisher)
    # Minting last: a contract publisher's onERC721Received runs after every
    # effect, and the lock stops it from re-entering.
    erc721._safe_mint(publisher, token_id, b"")
    return token_id


@external
@nonreentrant
def publishVersion(tokenId: uint256, manifestCid: String[MAX_CID_LENGTH], itemsRoot: bytes32, itemCount: uint256) -> uint256:
    """
    @dev Appends a version to dataset `tokenId`; token owner only. Returns
         the new version number.
    """
    assert erc721._owner_of(tokenId) == msg.sender, "DatasetRegistry: not the dataset owner"
    assert len(manifestCid) != 0, "DatasetRegistry: manifest CID is empty"
    assert itemsRoot != empty(bytes32), "DatasetRegistry: items root is zero"
    assert itemCount != 0, "DatasetRegistry: no items"
    number: uint256 = self.versionCount[tokenId] + 1
    self.versionCount[tokenId] = number
    self._versions[tokenId][number] = Version(
        manifestCid=manifestCid, itemsRoot=itemsRoot, itemCount=itemCount, publishedAt=block.timestamp
    )
    erc721._set_token_uri(tokenId, concat("ipfs://", manifestCid))
    log VersionPublished(
        tokenId=tokenId, version=number, manifestCid=manifestCid, itemsRoot=itemsRoot, itemCount=itemCount
    )
    return number


@external
@view
def version(tokenId: uint256, number: uint256) -> Version:
    """
    @dev Version `number` (1 .. versionCount) of dataset `tokenId`.
    """
    assert number != 0 and number <= self.versionCount[tokenId], "DatasetRegistry: no such version"
    return self._versions[tokenId][number]


@external
def anchorAudit(seq: uint256, head: bytes32):
    """
    @dev Anchors the head of the node's append-only audit log: `head` is
         the hash of its entry `seq`. Owner (the node's operator) only;
         `seq` must exceed the last anchored one, so no anchor is rewritten.
    """
    ownable._check_owner()
    assert seq > self.lastAuditSeq, "DatasetRegistry: audit anchors only move forward"
    assert head != empty(bytes32), "DatasetRegistry: audit head is zero"
    self.auditAnchors[seq] = head
    self.lastAuditSeq = seq
    log AuditAnchored(seq=seq, head=head)
