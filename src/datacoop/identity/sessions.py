"""Sign-in with Ethereum (EIP-4361) and bearer sessions.

Nonces are issued by the server, stored with a TTL and consumed once by a
conditional UPDATE, so two sign-ins racing with one nonce cannot both win.
Session tokens are random; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import AuthNonce, AuthSession
from datacoop.errors import Gone, NotAuthenticated, ReplayedNonce
from datacoop.identity import participants
from datacoop.identity.addresses import did_pkh
from datacoop.identity.schemas import Caller, NoncePublic, SessionPublic, SignIn
from datacoop.identity.siwe import verify_siwe

__all__ = ["AuthService"]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        db: Database,
        *,
        domain: str,
        uri: str,
        chain_id: int,
        nonce_ttl: timedelta,
        session_ttl: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._db = db
        self.domain, self.uri, self.chain_id = domain, uri, chain_id
        self._nonce_ttl, self._session_ttl, self._clock = nonce_ttl, session_ttl, clock

    def issue_nonce(self) -> NoncePublic:
        """A fresh single-use nonce for the next SIWE message."""
        now = self._clock()
        nonce = secrets.token_hex(16)  # EIP-4361 wants at least 8 alphanumeric characters
        with self._db.transaction() as s:
            s.add(AuthNonce(nonce=nonce, issued_at=now, expires_at=now + self._nonce_ttl))
        return NoncePublic(
            nonce=nonce,
            expires_at=now + self._nonce_ttl,
            domain=self.domain,
            chain_id=self.chain_id,
            uri=self.uri,
        )

    def sign_in(self, body: SignIn) -> SessionPublic:
        """Verify a signed SIWE message, consume its nonce and open a session."""
        now = self._clock()
        claims = verify_siwe(
            body.message,
            body.signature,
            expected_domain=self.domain,
            expected_uri=self.uri,
            expected_chain_id=self.chain_id,
            now=now,
        )
        token = secrets.token_urlsafe(32)
        with self._db.transaction() as s:
            self._consume_nonce(s, claims.nonce, now)
            who = participants.get_or_create(s, claims.address, now)
            expires = now + self._session_ttl
            s.add(
                AuthSession(
                    token_hash=_token_hash(token),
                    participant_id=who.id,
                    chain_id=claims.chain_id,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return SessionPublic(
            token=token,
            address=claims.address,
            did=did_pkh(claims.chain_id, claims.address),
            expires_at=expires,
        )

    @staticmethod
    def _consume_nonce(s: Session, nonce: str, now: datetime) -> None:
        result = s.execute(
            update(AuthNonce)
            .where(AuthNonce.nonce == nonce, AuthNonce.used_at.is_(None), AuthNonce.expires_at > now)
            .values(used_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return
        row = s.get(AuthNonce, nonce)
        if row is None:
            raise NotAuthenticated("the nonce was not issued by this server", field="nonce")
        if row.used_at is not None:
            raise ReplayedNonce("this sign-in nonce was already used; ask for a new one", field="nonce")
        raise Gone("the sign-in nonce has expired; ask for a new one", field="nonce")

    def resolve(self, token: str) -> Caller:
        """Who holds the bearer token ``token``, as a :class:`Caller`; NotAuthenticated when the session
        is unknown, revoked or expired."""
        now = self._clock()
        with self._db.transaction() as s:
            row = s.scalar(select(AuthSession).where(AuthSession.token_hash == _token_hash(token)))
            if row is None or row.revoked_at is not None:
                raise NotAuthenticated(
                    "unknown or revoked session token; sign in again", field="authorization"
                )
            if row.expires_at <= now:
                raise NotAuthenticated("the session has expired; sign in again", field="authorization")
            return participants.as_caller(row.participant, self.chain_id)

    def sign_out(self, token: str) -> None:
        with self._db.transaction() as s:
            s.execute(
                update(AuthSession)
                .where(AuthSession.token_hash == _token_hash(token), AuthSession.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
