"""RS256 signatures off the event loop: the same bytes, a pool thread, other requests served meanwhile."""

from __future__ import annotations

import asyncio
import threading

from joserfc import jwt
from mockidp_support import OIDC, PROXY, code_tokens

from mock_idp import signing
from mock_idp.clock import Clock
from mock_idp.keys import ALGORITHM, KeyStore

# A guard against a hang when the behaviour under test is missing, never a timing assertion.
GUARD_SECONDS = 10


async def test_off_loop_signature_is_the_one_sign_writes_and_made_in_a_pool_thread(tmp_path, monkeypatch):
    keys = KeyStore.load_or_create(tmp_path, Clock())
    threads: list[threading.Thread] = []
    original = signing.rsa_signature

    def recording(key, data):
        threads.append(threading.current_thread())
        return original(key, data)

    monkeypatch.setattr(signing, "rsa_signature", recording)
    claims = {"sub": "s", "jti": "é-1", "aud": ["a", "b"]}
    token = await signing.sign_off_loop(keys, dict(claims), "oauth-id-jag+jwt")
    assert threads and threads[0] is not threading.main_thread()
    # RS256 (PKCS#1 v1.5) is deterministic, so both paths must write the same token.
    assert token == keys.sign(dict(claims), "oauth-id-jag+jwt")
    decoded = jwt.decode(token, keys.key, algorithms=[ALGORITHM])
    assert decoded.claims == claims and decoded.header["kid"] == keys.kid


async def test_a_request_is_answered_while_a_token_waits_for_its_signature(client, idp, monkeypatch):
    signing_started, other_answered = threading.Event(), threading.Event()
    answered_first: list[bool] = []
    original = signing.rsa_signature

    def held(key, data):
        # Holds the first signature until the JWKS below is answered: on the event loop this
        # would block that answer, and the flag would record it.
        signing_started.set()
        answered_first.append(other_answered.wait(GUARD_SECONDS))
        return original(key, data)

    monkeypatch.setattr(signing, "rsa_signature", held)
    tokens = asyncio.create_task(code_tokens(client))
    assert await asyncio.to_thread(signing_started.wait, GUARD_SECONDS)
    jwks = await client.get(f"{OIDC}/certs")
    other_answered.set()
    access = jwt.decode((await tokens)["access_token"], idp.keys.key, algorithms=[ALGORITHM])
    assert jwks.status_code == 200 and access.claims["preferred_username"] == "alice"
    assert answered_first[0] is True


async def test_concurrent_grants_each_get_their_own_tokens_and_a_refresh_token_is_used_once(client, idp):
    # Several grants awaiting signatures at once: each response is its own, signed and whole,
    # and the realm's single-use refresh tokens stay single-use (the store step precedes the await).
    sessions = [await code_tokens(client) for _ in range(3)]  # one SSO session, three client grants
    forms = [{"grant_type": "refresh_token", "refresh_token": each["refresh_token"]} for each in sessions]
    answers = await asyncio.gather(*(client.post(f"{OIDC}/token", auth=PROXY, data=form) for form in forms * 2))
    statuses = [answer.status_code for answer in answers]
    assert statuses[:3] == [200] * 3 and statuses[3:] == [400] * 3
    assert {answer.json()["error"] for answer in answers[3:]} == {"invalid_grant"}
    claims = [jwt.decode(a.json()["access_token"], idp.keys.key, algorithms=[ALGORITHM]).claims for a in answers[:3]]
    assert len({each["jti"] for each in claims}) == 3
    assert len({answer.json()["refresh_token"] for answer in answers[:3]}) == 3


async def test_a_rotation_dropping_the_key_mid_signature_leaves_a_response_the_jwks_verifies(client, idp, monkeypatch):
    # The first signature is held in its pool thread while the key is rotated away
    # (keep_old=False): the published tokens must verify against the JWKS after it, under one kid.
    from joserfc.jwk import KeySet

    signing_started, rotated = threading.Event(), threading.Event()
    original = signing.rsa_signature

    def held(key, data):
        if not signing_started.is_set():
            signing_started.set()
            assert rotated.wait(GUARD_SECONDS)
        return original(key, data)

    monkeypatch.setattr(signing, "rsa_signature", held)
    tokens = asyncio.create_task(code_tokens(client))
    assert await asyncio.to_thread(signing_started.wait, GUARD_SECONDS)
    old_kid = idp.keys.kid
    idp.keys.rotate(keep_old=False)
    rotated.set()
    answer = await tokens
    jwks = KeySet.import_key_set((await client.get(f"{OIDC}/certs")).json())
    assert old_kid not in {key.kid for key in jwks.keys}
    kids = set()
    for name in ("access_token", "id_token"):
        decoded = jwt.decode(answer[name], jwks, algorithms=[ALGORITHM])
        kids.add(decoded.header["kid"])
    assert kids == {idp.keys.kid}


async def test_a_lone_off_loop_signature_survives_a_rotation_dropping_its_key(tmp_path, monkeypatch):
    keys = KeyStore.load_or_create(tmp_path, Clock())
    original = signing.rsa_signature

    def rotating(key, data):
        signature = original(key, data)
        if not keys.retired and keys.kid == first_kid:
            # As an admin rotation would, between the signature and the token's publication.
            keys.rotate(keep_old=False)
        return signature

    first_kid = keys.kid
    monkeypatch.setattr(signing, "rsa_signature", rotating)
    token = await signing.sign_off_loop(keys, {"sub": "s"})
    assert keys.kid != first_kid
    assert keys.verify(token) == {"sub": "s"}
