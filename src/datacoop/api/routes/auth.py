"""Sign-in with Ethereum."""

from __future__ import annotations

from fastapi import APIRouter, status

from datacoop.api.deps import AuthDep, BearerToken, CurrentCaller
from datacoop.api.limits import SIGN_IN, SIGN_IN_NONCE
from datacoop.identity.schemas import MePublic, NoncePublic, SessionPublic, SignIn

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/nonce", response_model=NoncePublic, dependencies=[SIGN_IN_NONCE])
def nonce(auth: AuthDep) -> NoncePublic:
    """A single-use nonce to put in the EIP-4361 message (with the domain and chain id to use)."""
    return auth.issue_nonce()


@router.post("/siwe", response_model=SessionPublic, dependencies=[SIGN_IN])
def sign_in(auth: AuthDep, body: SignIn) -> SessionPublic:
    """Exchange a signed EIP-4361 message for a session token."""
    return auth.sign_in(body)


@router.get("/me", response_model=MePublic)
def me(who: CurrentCaller) -> MePublic:
    """Who the session's token signs in."""
    return MePublic(address=who.address, did=who.did)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(auth: AuthDep, token: BearerToken, _: CurrentCaller) -> None:
    """End this session; 401 when the token is not a live session (a bad or ended one)."""
    auth.sign_out(token)
