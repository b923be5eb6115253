"""The HTTP side of :class:`LocalLLMServer`: routes, faults and replies of one request.

The handler reads its server's owner (the :class:`LocalLLMServer`) for the
profile, the injected faults and the responder.
"""

import json
import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

logger = logging.getLogger("tabsift.llm.testing")

# Junk with stray brackets but no JSON value and no code block.
_GARBAGE = "]] }{ ,, :: garbage \u2603 <<>> ~~ ?? )("


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # tests fire bursts of concurrent requests
    owner = None

    def handle_error(self, request, client_address):
        # Clients that time out or that a fault disconnects make the handler
        # fail on write; that is expected here, not worth a traceback.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server_version = "tabsift-llm-test/1.0"

    def log_message(self, format, *args):
        logger.debug("%s - %s", self.address_string(), format % args)

    def _send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_error_json(self, status, message, kind="invalid_request_error", headers=()):
        self._send_json(
            status, {"error": {"message": message, "type": kind, "code": str(status)}}, headers
        )

    def do_GET(self):
        owner = self.server.owner
        path = urlsplit(self.path).path.rstrip("/")
        if path in ("/v1/models", "/models"):
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": owner.model, "object": "model", "created": 0, "owned_by": "tabsift"}
                    ],
                },
            )
        else:
            self._send_error_json(404, f"no route GET {path}; try /v1/models")

    def _read_chat_request(self, owner):
        """Return the JSON body of a chat request, or None once an error is answered."""
        path = urlsplit(self.path).path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._send_error_json(404, f"no route POST {path}; try /v1/chat/completions")
            return None
        if owner.api_key is not None:
            if self.headers.get("Authorization") != f"Bearer {owner.api_key}":
                self._send_error_json(401, "invalid API key", kind="authentication_error")
                return None
        try:
            request = json.loads(body)
            if not isinstance(request, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as err:
            self._send_error_json(400, f"invalid JSON body: {err}")
            return None
        return request

    def _answer_fault(self, owner, fault, delay):
        """Play an injected fault; return True when it ended the request."""
        if fault is not None and fault.isdigit():
            status = int(fault)
            headers = [("Retry-After", "0")] if status == 429 else []
            kind = "server_error" if status >= 500 else "invalid_request_error"
            self._send_error_json(status, f"injected fault: HTTP {status}", kind, headers)
            return True
        if fault == "disconnect":
            self.close_connection = True
            return True  # the socket is closed without a reply
        if fault == "malformed":
            broken = b'{"id": "chatcmpl-broken", "choices": [{"index": 0, "mess'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(broken)))
            self.end_headers()
            self.wfile.write(broken)
            return True
        # a slow fault ends the request only when the server is stopping meanwhile
        return fault == "slow" and owner._stopping.wait(delay)

    def _requested_n(self, request):
        """Return the number of choices asked for, or None once an error is answered."""
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            self._send_error_json(400, "'messages' must be a non-empty list")
            return None
        n = request.get("n")
        n = 1 if n is None else n
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            self._send_error_json(400, f"'n' must be a positive integer, found {n!r}")
            return None
        return n

    def _choice_texts(self, owner, request, n, fault):
        """Return the text of each served choice, or None once an error is answered."""
        served = owner._profile.served_n(request, n)
        if fault == "garbage":
            return [_GARBAGE] * served  # the responder is not called
        try:
            return owner._texts(request, n, served)
        except Exception as err:
            logger.warning("the responder failed: %r", err)
            self._send_error_json(
                500, f"the responder raised {type(err).__name__}: {err}", "server_error"
            )
            return None

    def _send_truncated(self, reply):
        """Send half of ``reply`` under a longer declared length, then close."""
        data = json.dumps(reply).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data) + 64))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True  # closed on return, before the declared length

    def do_POST(self):
        owner = self.server.owner
        request = self._read_chat_request(owner)
        if request is None:
            return
        owner._record(request)
        fault, delay = owner._next_fault()
        if self._answer_fault(owner, fault, delay):
            return
        n = self._requested_n(request)
        if n is None:
            return
        refusal = owner._profile.gate(request, n)
        if refusal is not None:
            self._send_json(*refusal)
            return
        texts = self._choice_texts(owner, request, n, fault)
        if texts is None:
            return
        reply = owner._profile.completion(request, texts)
        if fault == "truncated":
            self._send_truncated(reply)
            return
        self._send_json(200, reply)
