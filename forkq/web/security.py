"""Who may look and who may act: HTTP Basic (or a bearer token) checked in constant time, a
CSRF token every state change must carry, and headers that keep the pages from running or
framing anything but their own code. Payloads in Redis are attacker-controlled, so the
pages also never run inline script (the Content-Security-Policy says so to the browser)."""
import hmac
import secrets

CSRF_COOKIE = "forkq_csrf"
CSRF_FIELD = "csrf"

HEADERS = (
    ("Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


def read_secret(auth=None, auth_file=None):
    """The credential from a value (the environment's) or a file's first line; None: open."""
    if auth_file:
        with open(auth_file, encoding="utf-8") as fh:
            auth = fh.readline().strip()
        if not auth:
            raise ValueError("%s is empty: put USER:PASS or a token on its first line"
                             % auth_file)
    return auth or None


class Auth:
    """USER:PASS asks for HTTP Basic with that pair; a secret without a colon is a token,
    taken as `Authorization: Bearer TOKEN` (Prometheus's bearer_token) or as the password of
    Basic with any user name (a browser's login box)."""

    def __init__(self, secret):
        self.user, sep, self.password = secret.partition(":")
        if not sep:
            self.user, self.password = None, secret

    def allows(self, request):
        given = request.authorization
        if given is None:
            return False
        if given.type == "bearer":
            return self.user is None and _same(given.token or "", self.password)
        if given.type != "basic":
            return False
        user_ok = self.user is None or _same(given.username or "", self.user)
        return _same(given.password or "", self.password) and user_ok


def _same(given, expected):
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def csrf_token(request):
    """(token, is_new): the browser's double-submit token, or a fresh one to set."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) >= 32:
        return token, False
    return secrets.token_urlsafe(32), True


def csrf_refusal(request):
    """Why a POST is refused, or None. The form's token must equal the cookie's (a page of
    another site can neither read the cookie nor set it, and SameSite=Strict keeps the
    browser from sending it with a cross-site POST), and an Origin, when the browser sends
    one, must be this host."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    form = request.form.get(CSRF_FIELD, "")
    if len(cookie) < 32 or not _same(form, cookie):
        return "the form's CSRF token is missing or wrong (reload the page and try again)"
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        # Behind a reverse proxy the browser's host may reach us as X-Forwarded-Host; a header
        # only allows here, and a page of another site cannot set it on a form's POST.
        hosts = {request.host} | {h.strip() for h in request.headers.get(
            "X-Forwarded-Host", "").split(",") if h.strip()}
        if origin.split("://", 1)[-1] not in hosts:
            return ("the request came from another origin (%s); behind a proxy, pass the "
                    "browser's Host (or X-Forwarded-Host) on" % origin)
    return None


def set_csrf_cookie(response, token, path):
    response.set_cookie(CSRF_COOKIE, token, path=path or "/", httponly=True, samesite="Strict")
