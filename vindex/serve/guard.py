"""Who may talk to `vindex serve`: the user's own browser tab, and with --token whoever holds it.

Four ASGI middlewares; `create_app` stacks them, outermost first (docs/security.md says what each
holds off and which test shows it):

- `SecurityHeaders`: a strict Content-Security-Policy and friends on every answer, `no-store` on /api/.
- `HostCheck`: the Host header must name this server, so a page whose DNS name was pointed at
  127.0.0.1 (DNS rebinding) gets a 421 and no data.
- `TokenGuard` (with --token): `?token=` is checked, then traded for a session cookie of this port
  and a redirect to the same address without it; scripts send `Authorization: Bearer`.
- `OriginGuard`: requests that another site's page starts are refused (Fetch metadata), and every
  request that may change or upload something (any method but GET, HEAD and OPTIONS) must come
  from this server's origin and carry its CSRF token in the `X-Vindex-CSRF` header. A new write
  endpoint is protected by being a POST (PUT, PATCH, DELETE) route: nothing else to do.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from urllib.parse import quote, urlencode, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-Vindex-CSRF"
CSRF_META = "vindex-csrf"  # <meta name=...> in every page; static/app.js sends it back in CSRF_HEADER
SESSION_COOKIE = "vindex_session_{port}"
SESSION_SECONDS = 12 * 3600  # a session cookie that leaked (to another port of the host) dies with this
SESSIONS_KEPT = 256  # the oldest session is forgotten past this many logins
BEARER_SCOPE_KEY = "vindex.bearer"  # set in the ASGI scope when the request carried the token itself
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "media-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])
HEADERS = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    # Another site may not embed the media in its own <img>/<video> (which would tell it what exists).
    ("cross-origin-resource-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
]


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_secret(offered: str | None, secret: bytes) -> bool:
    """Whether `offered` is `secret`, compared in constant time."""
    return bool(offered) and hmac.compare_digest(offered.encode("utf-8", "replace"), secret)


# -- headers ----------------------------------------------------------------------------------------
class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS:
                    headers[name] = value
                if api:
                    headers["cache-control"] = "no-store"
            await send(message)

        return await self.app(scope, receive, send_with_headers)


# -- the Host header --------------------------------------------------------------------------------
def host_name(host: str) -> str:
    """An address as a Host header writes it: lower case, an IPv6 address in brackets."""
    host = host.strip().lower()
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def split_host(value: str) -> tuple[str, str]:
    """(name, port) of a Host header value; port "" when it names none."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return (value, "") if end < 0 else (value[:end + 1], value[end + 2:] if value[end + 1:end + 2] == ":" else "")
    name, colon, port = value.rpartition(":")
    return (name, port) if colon else (value, "")


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


class HostAllowlist:
    """The names this server answers to: the address it listens on, localhost, 127.0.0.1 and [::1],
    each with its port, and the --allow-host names (with any port, unless one is given). Listening
    on every address (0.0.0.0, ::), any IP address with the port is fine too: DNS rebinding needs a
    name, and the machine's addresses are not known in advance."""

    def __init__(self, host: str, port: int, extra: tuple[str, ...] = ()):
        self.port = str(port)
        self.names = {host_name(host), "localhost", "127.0.0.1", "[::1]"}
        self.any_address = is_address(host) and ipaddress.ip_address(host.strip("[]")).is_unspecified
        self.extra_exact = {name.lower() for name in extra if split_host(name)[1]}
        self.extra_any_port = {host_name(name) for name in extra if not split_host(name)[1]}

    def allows(self, value: str) -> bool:
        value = value.strip().lower()
        if value in self.extra_exact:
            return True
        name, port = split_host(value)
        if name in self.extra_any_port:
            return True
        if (port or "80") != self.port:
            return False
        return name in self.names or (self.any_address and is_address(name))

    def shown(self) -> str:
        return ", ".join(sorted(f"{name}:{self.port}" for name in self.names))


class HostCheck:
    def __init__(self, app, allowlist: HostAllowlist):
        self.app, self.allowlist = app, allowlist

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self.allowlist.allows(Request(scope).headers.get("host", "")):
            response = PlainTextResponse(f"this vindex server answers only to {self.allowlist.shown()}; for a reverse "
                                         "proxy start it with --allow-host NAME", status_code=421)
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


# -- the token --------------------------------------------------------------------------------------
class TokenGuard:
    """Every request must carry the token (`Authorization: Bearer TOKEN`) or a session of this server.

    `?token=` is compared with the token before anything is set; when it matches, the answer is a
    303 to the same address without it and a new session id in a cookie named for this port. The
    cookie's value is random and kept here, not the token: browsers send a host's cookies to all of
    its ports, and one that reaches another server there neither reveals the token nor opens
    another vindex server. A session holds only from the client address that opened it, so a
    server elsewhere that was sent the cookie cannot replay it; it lapses after SESSION_SECONDS and
    when this server stops.
    """

    def __init__(self, app, token: str, port: int, read_secret: str | None = None):
        self.app, self.token = app, token.encode()
        # serve.json's secret (vindex.serve.handoff): the CLI's reads of /api/, nothing more.
        self.read_secret = read_secret.encode() if read_secret else None
        self.cookie = SESSION_COOKIE.format(port=port)
        # sha256 of the session id -> (when it lapses, the client address that opened it)
        self._sessions: dict[bytes, tuple[float, str]] = {}

    def _open_session(self, client: str) -> str:
        session = secrets.token_urlsafe(32)
        now = time.monotonic()
        self._sessions = {key: held for key, held in self._sessions.items() if held[0] > now}
        while len(self._sessions) >= SESSIONS_KEPT:
            del self._sessions[min(self._sessions, key=self._sessions.get)]
        self._sessions[hashlib.sha256(session.encode()).digest()] = (now + SESSION_SECONDS, client)
        return session

    def _has_session(self, offered: str | None, client: str) -> bool:
        if not offered:
            return False
        # Looked up by hash, so the time a look-up takes says nothing about the ids that exist.
        held = self._sessions.get(hashlib.sha256(offered.encode("utf-8", "replace")).digest())
        return held is not None and held[0] > time.monotonic() and held[1] == client

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        client = request.client.host if request.client else ""
        if "token" in request.query_params and request.method in ("GET", "HEAD"):
            if not same_secret(request.query_params["token"], self.token):
                return await self.refuse(scope, receive, send)
            rest = urlencode([(key, value) for key, value in request.query_params.multi_items() if key != "token"])
            location = quote(request.url.path, safe="/") + (f"?{rest}" if rest else "")
            cookie = f"{self.cookie}={self._open_session(client)}; HttpOnly; SameSite=Strict; Path=/"
            response = Response(status_code=303, headers={"location": location, "set-cookie": cookie,
                                                          "cache-control": "no-store"})
            return await response(scope, receive, send)
        bearer = request.headers.get("authorization", "")
        if bearer[:7].lower() == "bearer " and same_secret(bearer[7:], self.token):
            scope[BEARER_SCOPE_KEY] = True
            return await self.app(scope, receive, send)
        if (self.read_secret and bearer[:7].lower() == "bearer " and request.method in ("GET", "HEAD")
                and request.url.path.startswith("/api/") and same_secret(bearer[7:], self.read_secret)):
            return await self.app(scope, receive, send)  # not BEARER_SCOPE_KEY: it opens no write
        if self._has_session(request.cookies.get(self.cookie), client):
            return await self.app(scope, receive, send)
        return await self.refuse(scope, receive, send)

    @staticmethod
    async def refuse(scope, receive, send):
        response = PlainTextResponse("this vindex server needs its token: open the address `vindex serve` printed, "
                                     "or send Authorization: Bearer TOKEN", status_code=401)
        return await response(scope, receive, send)


# -- origin and CSRF --------------------------------------------------------------------------------
class OriginGuard:
    """Requests another site starts, and writes without this server's CSRF token, get a 403.

    Reads: a browser says where a request comes from (Sec-Fetch-Site); one that another site (or
    another port of this host: same-site, not same-origin) starts is refused unless it is the user
    following a link (a top-level GET navigation). Writes (any method but GET, HEAD, OPTIONS): an
    Origin, when sent, must be this server's exactly (scheme aside: a proxy may add TLS), and the
    `X-Vindex-CSRF` header must hold the CSRF token that this server's pages carry. A request
    authenticated by the token itself (Bearer) needs no CSRF token: no page can send that header to
    another origin without a CORS permission this server never gives.
    """

    def __init__(self, app, csrf_token: str):
        self.app, self.csrf = app, csrf_token.encode()

    def refusal(self, request: Request, scope) -> str | None:
        headers = request.headers
        site = headers.get("sec-fetch-site", "same-origin")
        navigation = request.method == "GET" and headers.get("sec-fetch-mode") == "navigate"
        if site not in ("same-origin", "none") and not navigation:
            return "refused: this request comes from another site"
        if request.method in SAFE_METHODS:
            return None
        if site != "same-origin":
            return "refused: a change must come from this server's own pages"
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or parts.netloc.lower() != headers.get("host", "").lower():
                return "refused: a change must come from this server's own pages"
        if scope.get(BEARER_SCOPE_KEY) or same_secret(headers.get(CSRF_HEADER), self.csrf):
            return None
        return f"refused: a change needs the {CSRF_HEADER} header that this server's pages carry"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        reason = self.refusal(Request(scope), scope)
        if reason:
            return await JSONResponse({"error": reason}, status_code=403)(scope, receive, send)
        return await self.app(scope, receive, send)
