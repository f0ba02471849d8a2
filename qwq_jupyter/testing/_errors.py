"""Error answers of the fake QwQ server: Cloudflare's error codes and both dialects' bodies."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from ._script import Fault, max_tokens, prompt_tokens

_Json = dict[str, Any]

_CONTEXT_MESSAGE = (
    "AiError: Bad input: Error: estimated number of input and maximum output tokens ({tokens}) "
    "exceeded this model context window limit (24000)"
)
_FREE_ALLOCATION_MESSAGE = (
    "AiError: you have used up your daily free allocation of 10,000 neurons, please upgrade to "
    "Cloudflare's Workers Paid plan if you would like to continue usage."
)
# Workers AI error code -> (HTTP status, realistic message), as Cloudflare documents them.
_ERROR_CODES: dict[int, tuple[int, str]] = {
    3003: (400, "Incomplete request"),
    5006: (400, "Bad input"),
    5007: (400, "No such model"),
    10000: (401, "Authentication error"),
    3023: (403, "Account blocked"),
    3041: (403, "Account not allowed for private model"),
    5016: (403, "Model agreement required: submit 'agree' first"),
    5018: (403, "Account not allowed for private model"),
    3042: (404, "Invalid model ID"),
    3007: (408, "Request timeout"),
    3008: (408, "Request aborted"),
    3046: (408, "Request timeout"),
    3006: (413, "Request is too large"),
    3010: (413, _CONTEXT_MESSAGE),
    5021: (413, _CONTEXT_MESSAGE),
    3036: (429, _FREE_ALLOCATION_MESSAGE),
    4006: (429, _FREE_ALLOCATION_MESSAGE),
    3040: (429, "Capacity temporarily exceeded, please try again."),
}
_STATUS_DEFAULT_CODES = {
    400: 5006,
    401: 10000,
    403: 3023,
    404: 3042,
    408: 3007,
    413: 3010,
    429: 3040,
}
_WORKERS_AI_DEFAULT_MAX_TOKENS = 256


def error_body(openai_style: bool, code: int, message: str) -> _Json:
    if openai_style:
        return {"error": {"code": str(code), "message": message}}
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "result": None,
        "messages": [],
    }


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def fault_error(fault: Fault, request: _Json) -> tuple[int, int, str]:
    """Status, code and message of an error fault, filling in whichever were left out.

    A status without a known Workers AI code (e.g. 503) uses the status number as its code.
    """
    status = fault.status
    code = fault.code if fault.code is not None else _STATUS_DEFAULT_CODES.get(status or 0)
    if code is None:
        code = status or 500
    known_status, known_message = _ERROR_CODES.get(code, (400, ""))
    status = status if status is not None else known_status
    limit = max_tokens(request)
    tokens = prompt_tokens(request) + (_WORKERS_AI_DEFAULT_MAX_TOKENS if limit is None else limit)
    message = fault.message or known_message.format(tokens=tokens) or status_phrase(status)
    return status, code, message


def unknown_url_body(method: str, path: str) -> _Json:
    """How an OpenAI-compatible server answers a route it does not serve (with a 404)."""
    return {
        "error": {
            "message": f"Invalid URL ({method} {path})",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
