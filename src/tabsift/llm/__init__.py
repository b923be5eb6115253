"""LLM access: one retried, budgeted and cached client for OpenAI-compatible servers.

:class:`LLMClient` wraps the official ``openai`` client (imported on the first
request, not with this package). Estimators take an ``LLMClient`` as a
parameter; it never exposes its API key. :func:`extract_json`,
:func:`extract_literal`, :func:`extract_block` and :func:`validate_json` turn
free-form replies into data (every family reads its replies through them),
and :meth:`LLMClient.chat_json` asks again when a reply does not validate.
:mod:`tabsift.llm.testing` provides a local server for tests.

Examples
--------
>>> from tabsift.llm import LLMClient, extract_json
>>> from tabsift.llm.testing import LocalLLMServer
>>> with LocalLLMServer(lambda request: 'Here: {"depth": 3}') as server:
...     client = LLMClient("tabsift-test", base_url=server.base_url)
...     extract_json(client.complete("How deep?"))
{'depth': 3}
"""

from tabsift.llm._blocks import extract_block
from tabsift.llm._cache import ResponseCache
from tabsift.llm._client import LLMClient
from tabsift.llm._errors import (
    BudgetExceededError,
    CacheMissError,
    LLMError,
    LLMRefusalError,
    LLMResponseError,
    LLMTruncatedError,
    LLMUnavailableError,
    SchemaValidationError,
)
from tabsift.llm._json_reply import extract_json
from tabsift.llm._literal import extract_literal
from tabsift.llm._policy import (
    ON_LLM_ERROR,
    REJECTION_REASONS,
    LLMFallbackWarning,
    LLMReport,
    LLMSession,
)
from tabsift.llm._reasoning import strip_reasoning
from tabsift.llm._reply_text import MAX_REPLY_CHARS
from tabsift.llm._response import ChatResponse, Choice, TokenLogprob, TokenUsage
from tabsift.llm._schema import validate_json
from tabsift.llm._usage import Usage

__all__ = [
    "MAX_REPLY_CHARS",
    "ON_LLM_ERROR",
    "REJECTION_REASONS",
    "BudgetExceededError",
    "CacheMissError",
    "ChatResponse",
    "Choice",
    "LLMClient",
    "LLMError",
    "LLMFallbackWarning",
    "LLMRefusalError",
    "LLMReport",
    "LLMResponseError",
    "LLMSession",
    "LLMTruncatedError",
    "LLMUnavailableError",
    "ResponseCache",
    "SchemaValidationError",
    "TokenLogprob",
    "TokenUsage",
    "Usage",
    "extract_block",
    "extract_json",
    "extract_literal",
    "strip_reasoning",
    "validate_json",
]
