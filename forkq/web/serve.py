"""`forkq web`'s server: waitress, a pure-Python WSGI server with no dependencies of its own,
meant for production (werkzeug's own server says it is not), with a few threads so that the
pages' polls never queue behind a slow request."""
import signal

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response


def _not_here(environ, start_response):
    return Response("forkq web is under its prefix\n", 404)(environ, start_response)


def serve(app, host, port, prefix="", threads=4):
    import waitress
    wsgi = DispatcherMiddleware(_not_here, {prefix: app}) if prefix else app
    server = waitress.create_server(wsgi, host=host, port=port, threads=threads,
                                    ident="forkq", clear_untrusted_proxy_headers=True)
    # TERM (a service manager's stop) ends it as INT does: Python's own KeyboardInterrupt.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
