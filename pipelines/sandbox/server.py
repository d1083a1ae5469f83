"""A local HTTP server that answers like the documented FunctionGraph API.

It serves ListFunctions and the async-invoke-configs API from an `Estate`, with the two paging
shapes and the error bodies of the real service, and consults `Faults` on every request to them.
Authentication is checked as the API gateway checks it (see `iam.py`): static or IAM-issued
`X-Auth-Token`s (which expire), and AK/SK `SDK-HMAC-SHA256` signatures recomputed from the raw
request. The same server plays IAM: `POST /v3/auth/tokens` (password method), and
`GET /v3/auth/projects` / `GET /v3/projects?name=` for project discovery. IAM is a separate
service in the real cloud, so neither `Faults` nor latency apply to its routes. The connector
talks to the sandbox over a real socket, exactly as it talks to Huawei Cloud, and never imports
this package.

Every response it writes carries a fresh `X-Request-Id` (32 hex characters), as the real API's
do, and `requests_seen` remembers it, so a test can check that an error message quotes it.

`SandboxServer.hostile` (a `Hostile`) turns well-formed listings into hostile ones: a `count`
that lies, configs pages without `page_info`, paging that never ends, or any payload or raw
bytes a test wants to serve in place of a listing page.

Request handling is split in two: `SandboxServer.respond()` turns (method, target, headers) into a
`Reply` without touching the socket, and a thin `BaseHTTPRequestHandler` writes it out.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, unquote

from .estate import DEFAULT_DOMAIN_ID, Estate, Project, make_config_item, make_function_item
from .faults import FaultResponse, Faults
from .gateway import GatewayLimit
from .iam import AuthAttempt, AuthResult, Iam, ProjectInfo, iam_error, project_payload

__all__ = [
    "PHANTOM_FUNCTION",
    "Hostile",
    "ListingKind",
    "Reply",
    "SandboxServer",
    "SeenRequest",
    "Transform",
]

LastPageMarker = Literal["count", "zero", "omit"]
ListingKind = Literal["functions", "configs"]
#: `Hostile.transform`: (kind, key, payload) -> the payload to serve, or raw body bytes.
Transform = Callable[[ListingKind, str, dict[str, Any]], "dict[str, Any] | bytes"]

_FUNCTIONS_MAX = 400  # documented maximum of `maxitems`
_CONFIGS_DEFAULT = 10  # documented default of `limit`
_CONFIGS_MAX = 100  # documented maximum of `limit`
_JSON = "application/json"
_MAX_BODY = 1 << 20  # larger request bodies are not read; the connection is closed instead
_REQUEST_ID_HEADER = "X-Request-Id"
#: Name of the function `endless_paging` invents for an empty ListFunctions listing.
PHANTOM_FUNCTION = "endless-phantom"
_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class SeenRequest(NamedTuple):
    """One request as the server saw it: raw (still percent-encoded) path, query, status.

    `status` is 0 for a dropped connection. `request_id` is the `X-Request-Id` the response
    carried ("" for a dropped connection, which sends no headers); it comes last so code that
    reads the first four fields by position keeps working.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    request_id: str = ""


@dataclass
class Hostile:
    """Knobs that make listings hostile; all off by default, settable between requests.

    They apply only to successful (200) ListFunctions and async-invoke-configs pages:

    - `count_extra`: added to the top-level `count` of both listings, so a listing claims more
      items than it will ever serve (or, negative, fewer than it serves). Paging is otherwise
      unchanged: `next_marker` follows the items really served and, on the last page,
      `last_page_marker` decides (with "count" it is the real number of items, below the
      claimed `count`; "zero" and "omit" as usual), so a client trusting `count` asks past the
      end and gets empty pages (which keep claiming the inflated `count`).
    - `omit_page_info`: configs pages come without `page_info` (items and `count` only).
    - `endless_paging`: both listings page forever and carry no `count`. Every page holds items
      and `next_marker` is always `marker + items served`. Up to the real end the pages are the
      real ones; past it each page repeats the listing's last `min(limit, n)` items (the last
      real page, as aligned from the end). An empty listing serves one invented item instead:
      a function (`PHANTOM_FUNCTION` in package "default", or named after the `func_name` and
      `package_name` filters) or the config `{urn}:latest`. Requests stay as cheap as normal
      pages; only a client's own cap (or noticing it learns nothing new) stops it.
      `count_extra` and `last_page_marker` have nothing to act on then.
    - `transform`: called as `transform(kind, key, payload)` for every successful page, after
      the knobs above; `kind` is "functions" (`key`: the project id) or "configs" (`key`: the
      unqualified function URN); `payload` is a deep copy the function may change. It returns
      the payload to serve (JSON-encoded as usual) or `bytes`, served verbatim as the body
      (for bodies no encoder writes: numbers beyond 64 bits, deep nesting, duplicate keys...).
      If it raises, the request is answered 500 `SANDBOX.0500` naming the exception.
    """

    count_extra: int = 0
    omit_page_info: bool = False
    endless_paging: bool = False
    transform: Transform | None = None

    def clear(self) -> None:
        """Back to well-formed listings."""
        self.count_extra = 0
        self.omit_page_info = False
        self.endless_paging = False
        self.transform = None


@dataclass
class Reply:
    """A response to write; `drop=True` means close the socket without writing anything."""

    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class _BadRequest(Exception):
    pass


def _encode_json(payload: Any) -> bytes:
    """UTF-8 JSON; a string UTF-8 cannot hold (a lone surrogate) is written as an escape."""
    try:
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, ensure_ascii=True).encode("ascii")


def _json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, _encode_json(payload), _JSON, dict(headers or {}))


def _error(status: int, code: str, message: str) -> Reply:
    return _json_reply(status, {"error_code": code, "error_msg": message})


def _offset(query: Mapping[str, str], name: str) -> int:
    """A non-negative integer query value; missing or empty means 0, anything else is a 400."""
    raw = query.get(name, "")
    if raw == "":
        return 0
    if raw.startswith("-") and raw[1:].isascii() and raw[1:].isdigit():
        raise _BadRequest(f"invalid {name}: must not be negative")
    if not (raw.isascii() and raw.isdigit()):
        raise _BadRequest(f"invalid {name}: not an integer")
    return int(raw)


class SandboxServer:
    """The FunctionGraph look-alike; use as a context manager or with `start()` / `stop()`.

    The socket is bound in the constructor (like the standard library's servers), so `url` is
    known before serving starts; `port=0` picks a free port. A stopped server cannot be restarted.
    """

    def __init__(
        self,
        estate: Estate,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] = ("sandbox-token",),
        faults: Faults | None = None,
        functions_page_cap: int = _FUNCTIONS_MAX,
        configs_page_cap: int = _CONFIGS_MAX,
        last_page_marker: LastPageMarker = "count",
        verbose: bool = False,
        access_keys: Mapping[str, str] | None = None,
        security_tokens: Iterable[str] = (),
        temporary_keys: Mapping[str, tuple[str, str]] | None = None,
        users: Mapping[tuple[str, str], str] | None = None,
        token_ttl_s: float = 86400,
        clock: Callable[[], datetime] | None = None,
        max_clock_skew_s: float = 900,
        hostile: Hostile | None = None,
    ) -> None:
        """`tokens` are static X-Auth-Tokens (valid for every project, never expiring).

        `access_keys` maps AK to SK for signed requests; `security_tokens` are the valid
        X-Security-Token values such a key may send; `temporary_keys` maps a temporary AK to
        (SK, security token), accepted only with exactly that X-Security-Token (signed);
        `users` maps (domain name, user name) to the password `POST /v3/auth/tokens` accepts,
        and the tokens it issues live `token_ttl_s` seconds by `clock` (UTC now by default),
        which also judges X-Sdk-Date (at most `max_clock_skew_s` away). `hostile` starts the
        server with hostile listings (see `Hostile`; also settable later via `self.hostile`).
        """
        if last_page_marker not in ("count", "zero", "omit"):
            raise ValueError(f"last_page_marker must be count, zero or omit: {last_page_marker!r}")
        if functions_page_cap < 1 or configs_page_cap < 1:
            raise ValueError("page caps must be at least 1")
        self.estate = estate
        self.faults = faults if faults is not None else Faults()
        self.tokens = tuple(tokens)
        self.functions_page_cap = functions_page_cap
        self.configs_page_cap = configs_page_cap
        self.last_page_marker: LastPageMarker = last_page_marker
        self.verbose = verbose
        self.hostile = hostile if hostile is not None else Hostile()
        self.gateway = GatewayLimit()
        """The gateway's flow control (`gateway.per_second`, 0 = off): beyond it, 429 APIG.0308
        without Retry-After, answered at once."""
        iam_options: dict[str, Any] = {} if clock is None else {"clock": clock}
        self.iam = Iam(
            access_keys=access_keys,
            security_tokens=security_tokens,
            temporary_keys=temporary_keys,
            users=users,
            token_ttl_s=token_ttl_s,
            max_clock_skew_s=max_clock_skew_s,
            **iam_options,
        )
        self._seen: list[SeenRequest] = []
        self._seen_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._serving = False
        self._closed = False
        self._httpd = _HTTPServer((host, port), self)

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the connector, e.g. "http://127.0.0.1:54321"."""
        host, port = self._httpd.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self) -> SandboxServer:
        """Serve in a daemon thread (returns self, so `SandboxServer(...).start()` reads well)."""
        with self._state_lock:
            self._claim_serving()
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                # shutdown() waits for the next poll: keep it short so tests stop servers quickly.
                kwargs={"poll_interval": 0.01},
                name=f"sandbox-{self._httpd.server_address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self, poll_interval: float = 0.2) -> None:
        """Serve in the calling thread (the CLI) until `stop()` from another thread or Ctrl-C."""
        with self._state_lock:
            self._claim_serving()
        try:
            self._httpd.serve_forever(poll_interval=poll_interval)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open keep-alive connection."""
        with self._state_lock:
            serving, self._serving = self._serving, False
            thread, self._thread = self._thread, None
        if serving:
            self._httpd.shutdown()  # returns once the serving loop has exited
        if thread is not None:
            thread.join()
        self._close()

    def _claim_serving(self) -> None:
        if self._closed:
            raise RuntimeError("this sandbox server was stopped; create a new one")
        if self._serving:
            raise RuntimeError("this sandbox server is already serving")
        self._serving = True

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _close(self) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._serving = False
        self._httpd.server_close()
        self._httpd.close_connections()

    # -- observation ---------------------------------------------------------------------------

    @property
    def requests_seen(self) -> list[SeenRequest]:
        """A copy of every request handled so far, in arrival order."""
        with self._seen_lock:
            return list(self._seen)

    def clear_requests_seen(self) -> None:
        with self._seen_lock:
            self._seen.clear()

    def _record(self, seen: SeenRequest) -> None:
        with self._seen_lock:
            self._seen.append(seen)

    @property
    def auth_seen(self) -> list[AuthAttempt]:
        """Every authentication check so far, in order: (kind, ok, sdk_date, reason).

        Signed requests record the X-Sdk-Date they carried, so a test can check that each retry
        was signed anew. Faulted requests never reach the check and are not recorded.
        """
        return self.iam.auth_seen

    def clear_auth_seen(self) -> None:
        self.iam.clear_auth_seen()

    @property
    def tokens_issued(self) -> int:
        """How many tokens `POST /v3/auth/tokens` has issued."""
        return self.iam.tokens_issued

    def expire_tokens(self) -> None:
        """Make every IAM-issued token expire now: the next use answers 401 APIG.0307."""
        self.iam.expire_tokens()

    # -- authentication ------------------------------------------------------------------------

    def authenticate(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> AuthResult:
        """Check the request's credentials; the result is truthy when they are valid.

        Works only from what arrived: the method, the raw target (path and query as sent), the
        received headers and the body bytes. A failed result carries the gateway's status and
        error body. Secrets, signatures and tokens never reach any body, record or log.
        """
        route = _route(target.partition("?")[0])
        return self.iam.verify(
            method,
            target,
            headers,
            body,
            path_project=route[1] if route is not None else None,
            static_tokens=self.tokens,
        )

    # -- request handling ----------------------------------------------------------------------

    def respond(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Reply:
        """Compute the reply to one request and record it in `requests_seen`.

        Every reply but a dropped connection gets a fresh `X-Request-Id`.
        """
        raw_path, _, raw_query = target.partition("?")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        reply = self._respond(method, target, raw_path, query, headers, body)
        request_id = ""
        if not reply.drop:
            request_id = secrets.token_hex(16)
            reply.headers[_REQUEST_ID_HEADER] = request_id
        status = 0 if reply.drop else reply.status
        self._record(SeenRequest(method, raw_path, query, status, request_id))
        return reply

    def _respond(
        self,
        method: str,
        target: str,
        raw_path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        iam_route = _IAM_ROUTES.get(raw_path)
        if iam_route is not None:
            return self._serve_iam(iam_route, method, target, query, headers, body)
        if method != "GET":
            body, content_type = _error_body("FSS.0405", f"method {method} is not allowed")
            return Reply(405, body, content_type, {"Allow": "GET"})
        if not self.gateway.admit():
            return _error(429, "APIG.0308", "The request is throttled by the API gateway.")
        # Faults answer first, before routing errors and auth failures, as a throttling gateway
        # in front of the service would: latency, then whatever `Faults.pick` decides (see its
        # precedence).
        latency = self.faults.latency_s
        if latency > 0:
            time.sleep(latency)
        route = _route(raw_path)
        function_urn = route[2] if route is not None else None
        # Credentials are checked (and recorded in `auth_seen`) even when a fault answers, so a
        # test can see what every attempt carried, e.g. a fresh X-Sdk-Date on each retry.
        auth = self.authenticate(method, target, headers, body) if route is not None else None
        fault = self.faults.pick((target, unquote(raw_path)), function_urn)
        if fault is not None and fault.kind != "truncated":
            return _fault_reply(fault)
        reply = self._serve(route, auth, query)
        if fault is not None:  # truncated: the real body, cut mid-document
            return Reply(fault.status, reply.body[: len(reply.body) // 2], reply.content_type)
        return reply

    def _serve(
        self,
        route: tuple[str, str, str | None] | None,
        auth: AuthResult | None,
        query: dict[str, str],
    ) -> Reply:
        if route is None or auth is None:
            return _error(
                404,
                "APIG.0101",
                "The API does not exist or has not been published in the environment",
            )
        if not auth:
            return _error(auth.status, auth.error_code or "", auth.error_msg or "")
        _, project_id, function_urn = route
        knobs = replace(self.hostile)  # one consistent reading, even if a test changes them now
        kind: ListingKind
        with self.estate.lock:
            if project_id not in self.estate.projects or auth.project_id not in (None, project_id):
                return _error(
                    403, "FSS.0403", f"project {project_id} is not accessible with this token"
                )
            try:
                if function_urn is None:
                    kind, key = "functions", project_id
                    page = self._list_functions(project_id, query, knobs)
                else:
                    kind, key = "configs", function_urn
                    page = self._list_configs(project_id, function_urn, query, knobs)
            except _BadRequest as exc:
                return _error(400, "FSS.0400", str(exc))
            if isinstance(page, Reply):
                return page
            if knobs.transform is None:
                return _json_reply(200, page)
            # The transform may change what it gets, and may be slow: give it a private copy
            # and call it outside the lock.
            page = copy.deepcopy(page)
        return _transformed(knobs.transform, kind, key, page)

    def _list_functions(
        self, project_id: str, query: dict[str, str], knobs: Hostile
    ) -> dict[str, Any]:
        marker = _offset(query, "marker")
        maxitems = _offset(query, "maxitems")
        if maxitems == 0 or maxitems > _FUNCTIONS_MAX:
            maxitems = _FUNCTIONS_MAX
        maxitems = min(maxitems, self.functions_page_cap)
        items = self.estate.functions(project_id)
        package = query.get("package_name")
        name = query.get("func_name")
        if package:
            items = [i for i in items if i.get("package") == package]
        if name:
            items = [i for i in items if i.get("func_name") == name]
        if knobs.endless_paging:
            page = _endless_page(items, marker, maxitems) or [
                make_function_item(
                    self.estate.projects[project_id].region,
                    project_id,
                    package or "default",
                    name or PHANTOM_FUNCTION,
                )
            ]
            return {"functions": page, "next_marker": marker + len(page)}
        page = items[marker : marker + maxitems]
        payload: dict[str, Any] = {"functions": page}
        self._set_next_marker(payload, marker + len(page), len(items))
        payload["count"] = len(items) + knobs.count_extra
        return payload

    def _list_configs(
        self, project_id: str, function_urn: str, query: dict[str, str], knobs: Hostile
    ) -> dict[str, Any] | Reply:
        marker = _offset(query, "marker")
        limit = _offset(query, "limit") or _CONFIGS_DEFAULT
        limit = min(limit, _CONFIGS_MAX, self.configs_page_cap)
        parts = function_urn.split(":")
        items = self.estate.configs(function_urn)
        if items is None or len(parts) != 7 or parts[3] != project_id:
            return _error(404, "FSS.1051", f"function not found: {function_urn}")
        page_info: dict[str, Any] = {}
        if knobs.endless_paging:
            page = _endless_page(items, marker, limit) or [make_config_item(function_urn, "latest")]
            page_info["next_marker"] = marker + len(page)
        else:
            page = items[marker : marker + limit]
            self._set_next_marker(page_info, marker + len(page), len(items))
        page_info["previous_marker"] = max(marker - limit, 0)
        page_info["current_count"] = len(page)
        payload: dict[str, Any] = {"async_invoke_configs": page}
        if not knobs.endless_paging:
            payload["count"] = len(items) + knobs.count_extra
        if not knobs.omit_page_info:
            payload["page_info"] = page_info
        return payload

    def _serve_iam(
        self,
        route: str,
        method: str,
        target: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        allowed = "POST" if route == "tokens" else "GET"
        if method != allowed:
            payload = iam_error(405, f"The method {method} is not allowed for this resource.")
            return _json_reply(405, payload, {"Allow": allowed})
        if route == "tokens":
            reply = self.iam.issue_token(body, self._project_infos())
            return _json_reply(reply.status, reply.payload, reply.headers)
        auth = self.authenticate(method, target, headers, body)
        if not auth:
            return _error(auth.status, auth.error_code or "", auth.error_msg or "")
        projects = self._project_infos()
        if route == "projects" and query.get("name"):  # GET /v3/projects?name={region}
            projects = [p for p in projects if p.region == query["name"]]
        return _json_reply(200, {"projects": [project_payload(p) for p in projects]})

    def _project_infos(self) -> list[ProjectInfo]:
        with self.estate.lock:
            return [
                ProjectInfo(pid, project.region, _domain_id(project))
                for pid, project in sorted(self.estate.projects.items())
            ]

    def _set_next_marker(self, payload: dict[str, Any], end: int, count: int) -> None:
        if end < count:
            payload["next_marker"] = end
        elif self.last_page_marker == "count":
            payload["next_marker"] = count
        elif self.last_page_marker == "zero":
            payload["next_marker"] = 0


# IAM routes, matched on the exact raw path: /v3/auth/projects lists the projects the caller may
# scope to; /v3/projects (with ?name=) is what the official SDK asks to find a region's project.
_IAM_ROUTES = {
    "/v3/auth/tokens": "tokens",
    "/v3/auth/projects": "auth_projects",
    "/v3/projects": "projects",
}


def _endless_page(items: list[dict[str, Any]], marker: int, limit: int) -> list[dict[str, Any]]:
    """The real page up to the end; past it, the listing's last `min(limit, n)` items again."""
    if marker < len(items):
        return items[marker : marker + limit]
    return items[max(len(items) - limit, 0) :]


def _transformed(
    transform: Transform, kind: ListingKind, key: str, payload: dict[str, Any]
) -> Reply:
    """Serve what a test's transform makes of a page; its failure is a 500 that names it."""
    try:
        result = transform(kind, key, payload)
        if isinstance(result, bytes | bytearray | memoryview):
            return Reply(200, bytes(result))
        return _json_reply(200, result)
    except Exception as exc:  # a bug in the test's transform: make it loud, keep serving
        message = f"hostile transform failed: {type(exc).__name__}: {exc}"
        sys.stderr.write(f"sandbox: {message}\n")
        return _error(500, "SANDBOX.0500", message)


def _domain_id(project: Project) -> str:
    """The account owning a project: the `domain_id` its function items carry, if any."""
    for item in project.functions.values():
        domain_id = item.get("domain_id")
        if isinstance(domain_id, str) and domain_id:
            return domain_id
    return DEFAULT_DOMAIN_ID


def _error_body(code: str, message: str) -> tuple[bytes, str]:
    return json.dumps({"error_code": code, "error_msg": message}).encode(), _JSON


def _route(raw_path: str) -> tuple[str, str, str | None] | None:
    """("functions", project_id, None), ("configs", project_id, urn) or None.

    The raw path is split before decoding, so a URN arrives as one segment whatever it contains.
    """
    segments = raw_path.split("/")
    if len(segments) < 5 or segments[0] != "" or segments[1] != "v2":
        return None
    project_id = unquote(segments[2])
    if not project_id or segments[3:5] != ["fgs", "functions"]:
        return None
    if len(segments) == 5:
        return ("functions", project_id, None)
    if len(segments) == 7 and segments[6] == "async-invoke-configs" and segments[5]:
        return ("configs", project_id, unquote(segments[5]))
    return None


def _fault_reply(fault: FaultResponse) -> Reply:
    if fault.kind == "drop":
        return Reply(0, drop=True)
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    if fault.kind == "html":
        return Reply(fault.status, _HTML_502.encode(), "text/html", headers)
    body, content_type = _error_body(fault.error_code or "", fault.error_msg or "")
    return Reply(fault.status, body, content_type, headers)


class _HTTPServer(ThreadingHTTPServer):
    """Threading server that remembers open connections so `stop()` can cut them."""

    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 drops SYNs under a parallel client, costing 1 s retransmits.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Writes `SandboxServer.respond()` replies; HTTP/1.1 keep-alive like a real gateway."""

    protocol_version = "HTTP/1.1"
    server_version = "sandbox-apig"
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus the client's delayed
    # ACK would add ~40 ms to every response and make benchmarks measure the kernel.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def _handle(self) -> None:
        # Read any request body so the keep-alive connection stays usable; give up on odd ones.
        length = self.headers.get("Content-Length") or "0"
        body = b""
        if length.isdigit() and int(length) <= _MAX_BODY:
            body = self.rfile.read(int(length))
        else:
            self.close_connection = True
        reply = self.server.sandbox.respond(self.command, self.path, self.headers, body)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")
