"""forkq's dashboard and Prometheus endpoint (the optional extra: pip install 'forkq[web]').

    from forkq.web import create_app
    app = create_app(redis_url="redis://localhost:6379/0", read_only=True)

`app` is a WSGI application; mount it under a prefix in another app (it builds every link
from SCRIPT_NAME). Nothing here is imported by `forkq work` or its fork server, and nothing
is imported until create_app() is called.
"""


def create_app(redis_url=None, namespace=None, read_only=False, auth=None, auth_file=None,
               refresh=2.0):
    """A WSGI app over the Redis at `redis_url` (default: FORKQ_REDIS_URL / REDIS_URL, as the
    worker reads them), keys under `namespace` (default resque).

    read_only: hide every action and refuse every POST. auth / auth_file: "USER:PASS" (HTTP
    Basic) or a token (Bearer, or the password with any user name), given as a value or as
    the first line of a file; None leaves the pages open. refresh: seconds between the live
    parts' polls."""
    from forkq.store.admin import Admin
    from forkq.web.app import Dashboard
    from forkq.web.security import read_secret
    return Dashboard(Admin(redis_url, namespace), read_only=read_only,
                     auth=read_secret(auth, auth_file), refresh=refresh)


__all__ = ["create_app"]
