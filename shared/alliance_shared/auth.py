"""Who is calling: people with bearer JWTs (a `role` claim and scope claims), machines with API
keys issued by the registry for one institution."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from .contracts.vocabulary import Role
from .errors import Forbidden, Unauthorized

API_KEY_PREFIX = "fpba_"


@dataclass(frozen=True)
class Principal:
    """The caller. For a machine key, `role` is None, `institution_id` its institution and
    `key_id` the key; for a person, `subject` and `role` come from the token. `ip`: the address
    the request came from, as the platform trusts it (uvicorn resolves `X-Forwarded-For` from the
    proxies named in `FORWARDED_ALLOW_IPS`), for the audit trail."""

    subject: str
    role: Role | None
    institution_id: str | None = None
    organization_id: str | None = None
    key_id: str | None = None
    ip: str | None = None

    @property
    def is_machine(self) -> bool:
        return self.key_id is not None

    @property
    def is_secretariat(self) -> bool:
        return self.role is Role.SECRETARIAT

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"需要角色 {allowed} / requires role {allowed}")

    def require_institution(self, institution_id: str) -> None:
        """The secretariat sees everything; anyone else only their own institution."""
        if self.is_secretariat:
            return
        if self.institution_id != institution_id:
            raise Forbidden("无权访问其他机构的数据 / not your institution", field="institution_id")


class TokenVerifier:
    """Verifies bearer JWTs: HS256 with a shared secret (dev, CI) or against a JWKS URL (production)."""

    def __init__(self, secret: str, jwks_url: str | None = None) -> None:
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(token, key, algorithms=["RS256", "ES256"], options={"require": ["exp", "sub"]})
            else:
                claims = jwt.decode(token, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"令牌无效 / invalid token: {exc}") from None
        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise Unauthorized("令牌缺少有效角色 / token has no valid role", field="role") from None
        return Principal(subject=str(claims["sub"]), role=role,
                         institution_id=claims.get("institution_id"),
                         organization_id=claims.get("organization_id"))


def mint_token(secret: str, *, role: Role | str, subject: str = "dev", institution_id: str | None = None,
               organization_id: str | None = None, ttl_s: int = 12 * 3600) -> str:
    """A signed HS256 token for development and tests (`make token ROLE=...`)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "role": Role(role).value, "iat": now, "exp": now + ttl_s}
    if institution_id:
        claims["institution_id"] = institution_id
    if organization_id:
        claims["organization_id"] = organization_id
    return jwt.encode(claims, secret, algorithm="HS256")


# -- machine keys -----------------------------------------------------------------------------
def generate_api_key() -> tuple[str, str]:
    """A new key `(key_id, api_key)`; the key is `fpba_<key_id>_<secret>`, recognisable in leaks."""
    key_id = secrets.token_hex(6)
    return key_id, f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_api_key(api_key: str) -> str:
    """What the platform stores: SHA-256 of the key (keys are high-entropy, so no salt is needed)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_id_of(api_key: str) -> str | None:
    """The key id embedded in a well-formed key, for a lookup before the constant-time compare."""
    if not api_key.startswith(API_KEY_PREFIX):
        return None
    parts = api_key[len(API_KEY_PREFIX):].split("_", 1)
    return parts[0] if len(parts) == 2 and parts[0] else None


def api_key_matches(api_key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(api_key), stored_hash)


def webhook_signature(api_key: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over ``"{timestamp}.{body}"`` keyed with the API key."""
    mac = hmac.new(api_key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()
