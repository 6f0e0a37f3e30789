"""Tokens, machine keys, webhook signatures, sealing and masking of personal data, log redaction."""

import hashlib
import hmac
import logging

import pytest
from alliance_shared.auth import (
    TokenVerifier,
    api_key_matches,
    generate_api_key,
    hash_api_key,
    key_id_of,
    mint_token,
    webhook_signature,
)
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Forbidden, Unauthorized
from alliance_shared.pii import PiiVault, mask_email, mask_id_number, mask_phone
from alliance_shared.settings import DEV_PII_KEY, ServiceSettings
from alliance_shared.telemetry import JsonFormatter, redact

pytestmark = pytest.mark.unit
SECRET = "test-secret-0123456789abcdef0123456789"


def test_a_minted_token_verifies_with_its_claims():
    token = mint_token(SECRET, role="institution_admin", subject="u1", institution_id="i-1")
    principal = TokenVerifier(SECRET).verify(token)
    assert (principal.role, principal.institution_id, principal.subject) == (Role.INSTITUTION_ADMIN, "i-1", "u1")


def test_a_token_signed_with_another_secret_or_expired_is_refused():
    with pytest.raises(Unauthorized):
        TokenVerifier(SECRET).verify(mint_token("another-secret-0123456789abcdef01", role="secretariat"))
    with pytest.raises(Unauthorized):
        TokenVerifier(SECRET).verify(mint_token(SECRET, role="secretariat", ttl_s=-10))


def test_institution_scope_allows_the_secretariat_and_the_own_institution_only():
    verifier = TokenVerifier(SECRET)
    admin = verifier.verify(mint_token(SECRET, role="institution_admin", institution_id="i-1"))
    admin.require_institution("i-1")
    with pytest.raises(Forbidden):
        admin.require_institution("i-2")
    verifier.verify(mint_token(SECRET, role="secretariat")).require_institution("i-2")


def test_api_keys_are_recognisable_hashed_and_carry_their_id():
    key_id, key = generate_api_key()
    assert key.startswith("fpba_") and key_id_of(key) == key_id
    assert api_key_matches(key, hash_api_key(key))
    assert not api_key_matches(key + "x", hash_api_key(key))
    assert key_id_of("not-a-key") is None


def test_webhook_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert webhook_signature("k", "1700000000", b"{}") == "sha256=" + expected


def test_sealed_values_open_with_the_key_and_hash_for_lookup():
    vault = PiiVault(DEV_PII_KEY)
    sealed = vault.seal("11010519491231002X")
    assert "1101" not in sealed and vault.open(sealed) == "11010519491231002X"
    assert vault.seal("x") != vault.seal("x")  # random nonce
    assert vault.lookup_hash("11010519491231002x") == vault.lookup_hash("11010519491231002X")


def test_masks():
    assert mask_id_number("440301199001011234") == "4403**********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_email("zhang.san@bank.cn") == "z***@bank.cn"


def test_logs_never_carry_id_numbers_phones_emails_or_keys():
    _, key = generate_api_key()
    line = f"member 11010519491231002X phone 13812345678 mail a.b@c.cn key {key} Bearer abc.def.ghi"
    cleaned = redact(line)
    for secret in ("11010519491231002X", "13812345678", "a.b@c.cn", key, "abc.def.ghi"):
        assert secret not in cleaned
    record = logging.LogRecord("x", logging.INFO, __file__, 1, line, None, None)
    assert "13812345678" not in JsonFormatter("svc").format(record)


def test_production_settings_refuse_the_development_secrets():
    with pytest.raises(ValueError, match="AUTH_JWT_SECRET"):
        ServiceSettings(environment="production")
