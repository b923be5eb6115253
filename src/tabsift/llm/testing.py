"""A local OpenAI-compatible server with fault injection, for testing LLM code offline.

:class:`LocalLLMServer` answers ``POST /v1/chat/completions`` and
``GET /v1/models`` on a free loopback port, from a thread of the test process
(standard library only). Replies come from a *responder*, a plain function of
the request, so a test decides exactly what the "model" says; injected faults
(rate limits, server errors, slow replies, broken or dropped connections)
exercise the retry logic of :class:`tabsift.llm.LLMClient`.

A *profile* makes the server behave like a real one (OpenAI reasoning models,
Ollama, vLLM, llama.cpp, an Azure-like gateway; see :data:`PROFILES`), and
:func:`with_reasoning` makes the "model" think aloud before it answers, so a
test can check that the final answer is used and never a draft.

Examples
--------
>>> from tabsift.llm.testing import LocalLLMServer
>>> with LocalLLMServer(lambda request: "pong") as server:
...     server.inject("503")
...     client = server.client()
...     client.complete("ping")
'pong'
>>> client.usage.retries, len(server.requests)
(1, 2)

A profile answers as its server does. vLLM with a reasoning parser puts the
reasoning in ``reasoning_content`` and only the answer in ``content``; llama.cpp's
server refuses ``n > 1`` with HTTP 500; :attr:`LocalLLMServer.profile_events`
counts what the profile did:

>>> import http.client, json
>>> from tabsift.llm.testing import with_reasoning
>>> def post(server, body):
...     connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
...     connection.request("POST", "/v1/chat/completions", json.dumps(body))
...     response = connection.getresponse()
...     status, reply = response.status, json.loads(response.read())
...     connection.close()
...     return status, reply
>>> body = {"model": "m", "messages": [{"role": "user", "content": "Pick one."}]}
>>> responder = with_reasoning(lambda r: '{"choice": 5}', draft='Maybe {"choice": 0}? No.')
>>> with LocalLLMServer(responder, profile="vllm-reasoning-parser") as server:
...     status, reply = post(server, body)
>>> message = reply["choices"][0]["message"]
>>> message["reasoning_content"], message["content"]
('Maybe {"choice": 0}? No.', '{"choice": 5}')
>>> with LocalLLMServer(responder, profile="llamacpp") as server:
...     status, reply = post(server, {**body, "n": 2})
...     print(status, reply["error"]["message"], server.profile_events)
500 Only one completion choice is allowed {'refused_n': 1}
"""

from tabsift.llm._testing_profiles import FILTER_PROMPT_TRIGGER, FILTER_REPLY_TRIGGER, PROFILES
from tabsift.llm._testing_responders import (
    ReasonedReply,
    ScriptedResponder,
    echo_responder,
    with_reasoning,
)
from tabsift.llm._testing_server import FAULT_KINDS, LocalLLMServer

__all__ = [
    "FAULT_KINDS",
    "FILTER_PROMPT_TRIGGER",
    "FILTER_REPLY_TRIGGER",
    "PROFILES",
    "LocalLLMServer",
    "ReasonedReply",
    "ScriptedResponder",
    "echo_responder",
    "with_reasoning",
]
