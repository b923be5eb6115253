"""The connection to the server: where it is, which key it gets, and the openai client."""

import ipaddress
import os
from urllib.parse import urlsplit

from tabsift.llm._errors import LLMError

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Sent to loopback servers when no key is configured: local servers do not check it.
_LOCAL_DUMMY_KEY = "tabsift-local-no-key"


def import_openai():
    """Return the ``openai`` module, imported on first use with a message naming the extra."""
    from tabsift.utils import import_optional_dependency

    return import_optional_dependency("openai", purpose="tabsift.llm.LLMClient")


def is_loopback(url):
    """Whether ``url`` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(base_url):
    """``base_url``, else the environment variable ``OPENAI_BASE_URL``, else OpenAI's API."""
    return base_url or os.environ.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL


def resolve_api_key(api_key, api_key_env, base_url):
    """Return the key to send: ``api_key``, else ``$api_key_env``, else a dummy one for loopback."""
    if api_key:
        return api_key
    key = os.environ.get(api_key_env)
    if key:
        return key
    if is_loopback(base_url):
        return _LOCAL_DUMMY_KEY
    raise LLMError(
        f"No API key for the LLM server at {base_url}: api_key=None and the environment "
        f"variable {api_key_env!r} is not set. Set {api_key_env}, pass "
        "api_key=..., or use api_key_env=<the variable holding your key>."
    )


def open_openai_client(base_url, api_key, timeout):
    """Return an ``openai.OpenAI`` client without its own retries (tabsift retries)."""
    openai = import_openai()
    http_client = None
    if is_loopback(base_url):
        # trust_env=False: proxy variables (HTTP_PROXY, ALL_PROXY, ...) must
        # not send requests for this machine to a proxy.
        http_client = openai.DefaultHttpxClient(trust_env=False)
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=float(timeout),
        # tabsift's retry loop is the only one: budget and usage stay exact.
        max_retries=0,
        http_client=http_client,
    )


def redact(text, secret):
    """``text`` with every occurrence of ``secret`` (an API key) replaced."""
    if secret and len(secret) >= 4:
        return str(text).replace(secret, "<redacted>")
    return str(text)
