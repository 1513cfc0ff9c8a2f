"""Running what must not end the worker: the app's hooks, and each step of the way out. A
failure is logged and the worker carries on (the next step still runs)."""
import traceback

from forkq.api import hooks


def run_hooks(log, name, *args):
    try:
        hooks.run(name, *args)
    except Exception as exc:
        log.event("error", "%s hook failed: %r" % (name, exc))


def clean_up(log, step):
    """One step of the way out: whatever it raises is logged, and the next step runs."""
    try:
        step()
    except Exception as exc:
        try:
            log.event("error", "clean-up step %s failed: %r"
                      % (getattr(step, "__name__", "?"), exc), traceback=traceback.format_exc())
        except Exception:
            pass  # the log itself is broken (stderr closed): nothing left to tell
