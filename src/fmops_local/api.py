"""The template's API Gateway routes, served on 127.0.0.1 by a small HTTP server.

Routes come from samcli's ApiProvider (template.py). Each request becomes an
API Gateway proxy event -- REST API payload v1, or v2 for an HttpApi route
with PayloadFormatVersion 2.0 -- and invokes the route's function
synchronously. Like `sam local start-api`, routes are served at the root,
without the stage prefix.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fmops_local.deploy import FunctionSpec
from fmops_local.lambda_runtime import LambdaRuntime
from fmops_local.template import ApiRoute

LOG = logging.getLogger(__name__)

_BAD_GATEWAY = (502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')


@dataclass(frozen=True)
class _CompiledRoute:
    route: ApiRoute
    pattern: re.Pattern[str]
    function: FunctionSpec

    @property
    def specificity(self) -> tuple[int, int, int]:
        # Literal paths win over {param}, which wins over {proxy+}, as in API Gateway.
        path = self.route.path
        return (path.count("+}"), path.count("{"), -len(path))


class ApiServer:
    def __init__(
        self,
        routes: list[ApiRoute],
        functions: dict[str, FunctionSpec],
        runtime: LambdaRuntime,
        port: int,
        account_id: str,
    ):
        self._runtime = runtime
        self._account_id = account_id
        self._routes = sorted(
            (
                _CompiledRoute(route, _compile(route.path), functions[route.function_logical_id])
                for route in routes
                if route.function_logical_id in functions
            ),
            key=lambda compiled: compiled.specificity,
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def handle(
        self, method: str, target: str, headers: dict[str, list[str]], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, Any], bytes]:
        url = urlsplit(target)
        for compiled in self._routes:
            match = compiled.pattern.fullmatch(url.path)
            if match and method in compiled.route.methods:
                break
        else:
            return (
                403 if method != "OPTIONS" else 404,
                {"Content-Type": "application/json"},
                b'{"message":"Missing Authentication Token"}',
            )
        request = _Request(method, url.path, url.query, headers, body, source_ip, match.groupdict() or None)
        v2 = compiled.route.event_type == "HttpApi" and compiled.route.payload_format_version == "2.0"
        event = (
            _event_v2(request, compiled.route, self._account_id)
            if v2
            else _event_v1(request, compiled.route, self._account_id)
        )
        result = self._runtime.invoke(compiled.function, event)
        if result.error_type is not None:
            return _BAD_GATEWAY
        return _response(json.loads(result.payload), v2)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers: dict[str, list[str]] = {}
                for key, value in self.headers.items():
                    headers.setdefault(key, []).append(value)
                try:
                    status, response_headers, payload = api.handle(
                        self.command, self.path, headers, body, self.client_address[0]
                    )
                except Exception:
                    # The path only: a query string may hold an approval link's token.
                    LOG.exception("API request %s %s failed", self.command, urlsplit(self.path).path)
                    status, response_headers, payload = _BAD_GATEWAY
                self.send_response(status)
                for key, value in response_headers.items():
                    for item in value if isinstance(value, list) else [value]:
                        self.send_header(key, str(item))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815 (http.server's names)

            def log_message(self, format: str, *args: Any) -> None:
                # http.server's request line carries the query string (an approval link's token): leave it out.
                LOG.debug("api: %s %s", self.command, urlsplit(self.path).path)

        return Handler


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: str
    headers: dict[str, list[str]]
    body: bytes
    source_ip: str
    path_parameters: dict[str, str] | None


def _compile(path: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            pattern += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            pattern += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(pattern.rstrip("/") + "/?")


def _body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def _request_context(request: _Request, route: ApiRoute, account_id: str) -> dict[str, Any]:
    now = time.time()
    return {
        "accountId": account_id,
        "apiId": "local",
        "domainName": (request.headers.get("Host") or ["127.0.0.1"])[-1],
        "requestId": str(uuid.uuid4()),
        "requestTimeEpoch": int(now * 1000),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "protocol": "HTTP/1.1",
    }


def _event_v1(request: _Request, route: ApiRoute, account_id: str) -> dict[str, Any]:
    query = parse_qs(request.query, keep_blank_values=True)
    body, is_base64 = _body(request.body)
    user_agent = (request.headers.get("User-Agent") or [""])[-1] or None
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {key: values[-1] for key, values in request.headers.items()} or None,
        "multiValueHeaders": request.headers or None,
        "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": request.path_parameters,
        "stageVariables": None,
        "requestContext": {
            **_request_context(request, route, account_id),
            "resourcePath": route.path,
            "httpMethod": request.method,
            "path": request.path,
            "stage": "Prod",
            "identity": {"sourceIp": request.source_ip, "userAgent": user_agent},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _event_v2(request: _Request, route: ApiRoute, account_id: str) -> dict[str, Any]:
    query = parse_qs(request.query, keep_blank_values=True)
    body, is_base64 = _body(request.body)
    route_key = f"{request.method} {route.path}"
    context = _request_context(request, route, account_id)
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": {key.lower(): ",".join(values) for key, values in request.headers.items()},
        "queryStringParameters": {key: ",".join(values) for key, values in query.items()} or None,
        "pathParameters": request.path_parameters,
        "requestContext": {
            "accountId": account_id,
            "apiId": "local",
            "domainName": context["domainName"],
            "requestId": context["requestId"],
            "routeKey": route_key,
            "stage": "$default",
            "time": context["requestTime"],
            "timeEpoch": context["requestTimeEpoch"],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": (request.headers.get("User-Agent") or [""])[-1],
            },
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _response(result: Any, v2: bool) -> tuple[int, dict[str, Any], bytes]:
    if v2 and not (isinstance(result, dict) and "statusCode" in result):
        # Payload v2 lets a function return just the body.
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
    if not isinstance(result, dict) or "statusCode" not in result:
        return _BAD_GATEWAY
    headers: dict[str, Any] = {**(result.get("multiValueHeaders") or {}), **(result.get("headers") or {})}
    if v2 and result.get("cookies"):
        headers["Set-Cookie"] = result["cookies"]
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, payload
