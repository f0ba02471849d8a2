"""Credentials, held so that the token cannot leak through a repr, an error or a saved file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MissingCredentialError
from .public import publish

__all__ = ["Credentials", "Secret", "known_secrets", "redact", "redact_data"]

ACCOUNT_VAR = "CLOUDFLARE_ACCOUNT_ID"
TOKEN_VAR = "CLOUDFLARE_API_TOKEN"
#: The name Cloudflare's own example for this model (the curl call on its page) uses.
TOKEN_ALIAS = "CLOUDFLARE_AUTH_TOKEN"
#: Token for a self-hosted OpenAI-compatible server (vLLM `--api-key`, etc.), checked first.
OPENAI_KEY_VARS = ("QWQ_API_KEY", "OPENAI_API_KEY")

MASK = "****"
#: Shorter values are placeholders, not secrets (vLLM's `EMPTY`, Ollama's `ollama`): masking
#: them would garble ordinary words in every prompt and answer.
MIN_SECRET_LENGTH = 8


class Secret:
    """A string that never shows itself: repr, str and format print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type, tuple[str]]:
        # Pickling would write the token into a file; refuse loudly rather than leak quietly.
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class Credentials:
    """Cloudflare's account id and API token, and a key for other OpenAI-compatible servers.

    The two keys are kept apart so neither is sent to the other's server: the Cloudflare token
    goes only to Cloudflare's API hosts (or wherever `api_base` points), `openai_key` only to an
    OpenAI-compatible `base_url`. Keys are `Secret`s; the account id is redacted in errors.
    """

    account_id: str = ""
    api_token: Secret = field(default_factory=lambda: Secret(""))
    openai_key: Secret = field(default_factory=lambda: Secret(""))

    def __post_init__(self) -> None:
        for name in ("api_token", "openai_key"):
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, Secret(getattr(self, name)))

    def __repr__(self) -> str:
        account = f"{self.account_id[:4]}…" if self.account_id else "unset"
        token = MASK if self.api_token else "unset"
        key = MASK if self.openai_key else "unset"
        return f"Credentials(account_id={account!r}, api_token={token!r}, openai_key={key!r})"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        dotenv: str | Path | None = ".env",
    ) -> Credentials:
        """Read credentials from the environment, falling back to a `.env` file."""
        env = dict(read_dotenv(dotenv)) if dotenv else {}
        env.update(os.environ if environ is None else environ)
        key = next((env[name] for name in OPENAI_KEY_VARS if env.get(name)), "")
        return cls(
            account_id=env.get(ACCOUNT_VAR, "").strip(),
            api_token=Secret((env.get(TOKEN_VAR) or env.get(TOKEN_ALIAS, "")).strip()),
            openai_key=Secret(key.strip()),
        )

    def require(self, *, account: bool = True, token: bool = True) -> None:
        """Raise one line naming the variable to set when a needed credential is missing."""
        missing = []
        if account and not self.account_id:
            missing.append(ACCOUNT_VAR)
        if token and not self.api_token:
            missing.append(f"{TOKEN_VAR} (or {TOKEN_ALIAS})")
        if missing:
            names = " and ".join(missing)
            raise MissingCredentialError(
                f"set {names} in the environment or a .env file, type them with %qwq login, "
                "or try the offline demo with %qwq demo"
            )

    def secrets(self) -> tuple[str, ...]:
        """The strings that must never appear in output, longest first."""
        values = [self.api_token.reveal(), self.openai_key.reveal(), self.account_id]
        return tuple(sorted((v for v in values if v), key=len, reverse=True))


def read_dotenv(path: str | Path) -> dict[str, str]:
    """Parse KEY=VALUE lines of a .env file (comments, `export` and quotes allowed)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret in `text` with a mask."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def known_secrets(
    *credentials: Credentials | None,
    settings: Any = None,
    environ: Mapping[str, str] | None = None,
    dotenv: str | Path | None = ".env",
) -> tuple[str, ...]:
    """Every secret this kernel knows, longest first, to mask in anything sent or shown.

    That is the keys and account ids of `credentials` (e.g. from %qwq login), those in the
    environment and the .env file (both OpenAI key variables, not just the one in use), and
    any setting named `*_key` or `*_token`. A prompt can reach all of them through
    `{@dict(os.environ)}`, whichever backend the cell sends to.
    """
    values: list[str] = []
    for given in credentials:
        if given is not None:
            values += given.secrets()
    env = dict(read_dotenv(dotenv)) if dotenv else {}
    env.update(os.environ if environ is None else environ)
    names = (ACCOUNT_VAR, TOKEN_VAR, TOKEN_ALIAS, *OPENAI_KEY_VARS)
    values += (env.get(name, "") for name in names)
    values += _setting_keys(settings)
    unique = {value.strip() for value in values if len(value.strip()) >= MIN_SECRET_LENGTH}
    return tuple(sorted(unique, key=len, reverse=True))


def _setting_keys(settings: Any) -> Iterable[str]:
    if settings is None:
        return ()
    names = settings.trait_names(config=True)
    keys = (getattr(settings, name) for name in names if name.endswith(("_key", "_token")))
    return [key.reveal() if isinstance(key, Secret) else key for key in keys if _is_text(key)]


def _is_text(value: Any) -> bool:
    return isinstance(value, (str, Secret)) and bool(value)


#: Deeper than this, data is masked as its JSON text: a model can nest a tool call's
#: arguments a thousand levels deep, and masking must not end in a RecursionError.
_DEEPEST = 64


def redact_data(data: Any, secrets: tuple[str, ...], _depth: int = 0) -> Any:
    """A copy of JSON-like `data` with every secret masked in its strings (keys included)."""
    if isinstance(data, str):
        return redact(data, secrets)
    if isinstance(data, (dict, list, tuple)) and _depth >= _DEEPEST:
        try:
            return redact(json.dumps(data, default=str), secrets)  # nested too deep: as text
        except (RecursionError, ValueError):
            return "(nested too deeply to show)"
    if isinstance(data, dict):
        deeper = _depth + 1
        return {
            redact_data(key, secrets, deeper): redact_data(value, secrets, deeper)
            for key, value in data.items()
        }
    if isinstance(data, (list, tuple)):
        return [redact_data(item, secrets, _depth + 1) for item in data]
    return data


publish(globals())
