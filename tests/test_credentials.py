"""Credentials: where they come from, and that the token never shows."""

from __future__ import annotations

import pickle

import pytest

from qwq_jupyter import Credentials, MissingCredentialError, Secret
from qwq_jupyter.core.credentials import known_secrets, redact

SENTINEL = "tok-SENTINEL-5f3a9c"


def test_from_environment() -> None:
    creds = Credentials.from_env(
        {"CLOUDFLARE_ACCOUNT_ID": "acct123", "CLOUDFLARE_API_TOKEN": SENTINEL}, dotenv=None
    )
    assert creds.account_id == "acct123"
    assert creds.api_token.reveal() == SENTINEL


def test_from_dotenv_file_with_environment_winning(tmp_path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nexport CLOUDFLARE_ACCOUNT_ID='from-file'\n"
        f'CLOUDFLARE_API_TOKEN="{SENTINEL}"\n'
    )
    creds = Credentials.from_env({"CLOUDFLARE_ACCOUNT_ID": "from-env"}, dotenv=dotenv)
    assert creds.account_id == "from-env"
    assert creds.api_token.reveal() == SENTINEL


def test_openai_key_is_kept_apart_from_the_cloudflare_token() -> None:
    creds = Credentials.from_env({"QWQ_API_KEY": "k1", "CLOUDFLARE_API_TOKEN": "k2"}, None)
    assert (creds.openai_key.reveal(), creds.api_token.reveal()) == ("k1", "k2")
    assert Credentials.from_env({"OPENAI_API_KEY": "k3"}, None).openai_key.reveal() == "k3"


def test_token_never_in_repr_str_format_or_pickle() -> None:
    creds = Credentials("acct-000111", SENTINEL)
    for text in (repr(creds), str(creds), f"{creds}", repr(creds.api_token), f"{creds.api_token}"):
        assert SENTINEL not in text
    assert "acct-000111" not in repr(creds)
    with pytest.raises(TypeError):
        pickle.dumps(creds.api_token)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN"),
        (
            {"CLOUDFLARE_ACCOUNT_ID": "a"},
            r"set CLOUDFLARE_API_TOKEN \(or CLOUDFLARE_AUTH_TOKEN\) in",
        ),
        ({"CLOUDFLARE_API_TOKEN": "t"}, "set CLOUDFLARE_ACCOUNT_ID in"),
    ],
)
def test_missing_credential_names_the_variable(env: dict, missing: str) -> None:
    with pytest.raises(MissingCredentialError, match=missing) as info:
        Credentials.from_env(env, dotenv=None).require()
    assert "\n" not in str(info.value)
    assert "%qwq login" in str(info.value) and "%qwq demo" in str(info.value)


def test_cloudflares_own_token_name_is_accepted_and_masked() -> None:
    """Cloudflare's example for this model calls the token CLOUDFLARE_AUTH_TOKEN."""
    env = {"CLOUDFLARE_ACCOUNT_ID": "acct", "CLOUDFLARE_AUTH_TOKEN": SENTINEL}
    creds = Credentials.from_env(env, dotenv=None)
    creds.require()
    assert creds.api_token.reveal() == SENTINEL
    assert SENTINEL in known_secrets(environ=env, dotenv=None)


def test_redact() -> None:
    creds = Credentials("acct-000111", SENTINEL)
    text = f"GET /accounts/acct-000111/ai with Bearer {SENTINEL}"
    assert redact(text, creds.secrets()) == "GET /accounts/****/ai with Bearer ****"


def test_secret_equality_and_truth() -> None:
    assert Secret("a") == Secret("a") and not Secret("")
