from __future__ import annotations

import pytest

from apps.integrations.signing import new_secret, secret_key, signature, verify


def test_the_signature_matches_the_standard_webhooks_test_vector() -> None:
    # The example of the Standard Webhooks reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signed = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_receiver_rejects_an_old_timestamp_and_a_changed_body() -> None:
    secret = new_secret()
    body = b'{"a":1}'
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1000"}
    headers["webhook-signature"] = signature(secret, "msg_1", 1000, body)
    assert verify(secret, headers, body, now=1000 + 299)
    assert not verify(secret, headers, body, now=1000 + 301)  # a replay, too late
    assert not verify(secret, headers, b'{"a":2}', now=1000)
    assert not verify(new_secret(), headers, body, now=1000)


@pytest.mark.parametrize("bad", ["nope", "whsec_", "whsec_!!!!", "whsec_c2hvcnQ="])
def test_a_secret_must_be_whsec_and_24_to_64_bytes(bad: str) -> None:
    with pytest.raises(ValueError, match=r"whsec_|bytes"):
        secret_key(bad)
    assert len(secret_key(new_secret())) == 32
