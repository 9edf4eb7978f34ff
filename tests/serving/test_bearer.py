"""Bearer JWTs of an identity provider (serving.bearer): signed by a key of the JWKS file, naming the
issuer and audience, unexpired, with a known role: let in with that role; anything else a 401."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from features.settings import load_settings
from serving.auth import ApiKeyMiddleware
from tests.serving.test_keys import echo_caller

ISSUER, AUDIENCE = "https://id.example.com/", "memberscore"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(key: Any, algorithm: str = "RS256", kid: str = "k1", **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "anna@example.com", "exp": int(time.time()) + 600,
            "memberscore_role": "marketer", **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
def http(private_key: rsa.RSAPrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    monkeypatch.delenv("MEMBERSCORE_API_KEYS", raising=False)
    monkeypatch.setenv("MEMBERSCORE_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("MEMBERSCORE_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("MEMBERSCORE_JWT_JWKS_FILE", str(tmp_path / "jwks.json"))
    return TestClient(ApiKeyMiddleware(echo_caller, settings=load_settings))  # type: ignore[arg-type]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_a_valid_token_is_its_role(http: TestClient, private_key: rsa.RSAPrivateKey) -> None:
    answer = http.get("/segments", headers=bearer(token(private_key, memberscore_stores=["S1"])))
    assert answer.text == ("Caller(name='jwt:anna@example.com', role='marketer', stores=('S1',), raw_ids=False)")
    refused = http.post("/admin/reload", headers=bearer(token(private_key)))
    assert (refused.status_code, refused.json()) == (403, {"error": "role 'marketer': this key may not use this route"})


def test_every_bad_token_is_a_plain_401(http: TestClient, private_key: rsa.RSAPrivateKey) -> None:
    public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "expired": token(private_key, exp=int(time.time()) - 120),
        "other issuer": token(private_key, iss="https://evil.example.com/"),
        "other audience": token(private_key, aud="another-app"),
        "unknown role": token(private_key, memberscore_role="owner"),
        "no role": token(private_key, memberscore_role=None),
        "stores not a list": token(private_key, memberscore_stores="S1"),
        "signed by another key": token(other),
        "unknown kid": token(private_key, kid="k2"),
        "HMAC with the public key": _hs256(public_pem),
        "alg none": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60,
                                "memberscore_role": "admin"}, None, algorithm="none"),  # type: ignore[arg-type]
        "garbage": "not.a.token",
    }
    for why, value in bad.items():
        answer = http.get("/segments", headers=bearer(value))
        assert (answer.status_code, answer.json()) == (401, {"error": "missing or invalid API key (header X-API-Key)"}), why


def _hs256(secret: bytes) -> str:
    """The algorithm-confusion attack: an HMAC token keyed with the provider's public key (PyJWT
    refuses to sign with a PEM, so the token is put together by hand)."""
    import base64
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = part(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60,
                            "memberscore_role": "admin"}).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(signature)}"


def test_half_a_configuration_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERSCORE_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", "a" * 30)
    with pytest.raises(ValueError, match="^MEMBERSCORE_JWT_AUDIENCE, MEMBERSCORE_JWT_JWKS_FILE: not set"):
        ApiKeyMiddleware(echo_caller, settings=load_settings)  # type: ignore[arg-type]
