"""Getting the contenders ready. Each returns (thing, None) or (None, reason): a peer that cannot
be had becomes an "n/a (reason)" row, never a crash.

rq lives in its own virtualenv (bench/.venv, git-ignored) so that its pinned version and its
dependencies never touch the interpreter forkq runs from. forkq runs from the current
interpreter: the repository installed with `pip install -e .`, or found through PYTHONPATH.
"""
import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
VENV = os.path.join(BENCH, ".venv")
RQ_VERSION = "3.0.0"


def log(*parts):
    """Progress goes to stderr: stdout carries only the report."""
    print(*parts, file=sys.stderr, flush=True)


def _tail(text, limit=300):
    text = (text or "").strip()
    return text[-limit:].replace("\n", " | ")


def rq_python(venv=VENV):
    """The venv's python with rq RQ_VERSION installed (made or fixed on first use)."""
    python = os.path.join(venv, "bin", "python")
    try:
        if not os.path.exists(python):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True,
                           capture_output=True, text=True, timeout=120)
        probe = [python, "-c", "import rq; print(rq.__version__)"]
        have = subprocess.run(probe, capture_output=True, text=True, timeout=60)
        if have.returncode != 0 or have.stdout.strip() != RQ_VERSION:
            done = subprocess.run([python, "-m", "pip", "install", "-q",
                                   "rq==%s" % RQ_VERSION], capture_output=True, text=True,
                                  timeout=600)
            if done.returncode != 0:
                return None, "pip install rq==%s failed: %s" % (RQ_VERSION, _tail(done.stderr))
    except subprocess.CalledProcessError as exc:
        return None, "could not make %s: %s" % (venv, _tail(exc.stderr))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, "rq venv: %s" % exc
    return python, None


def forkq_version(environ):
    """forkq's version as the worker's interpreter sees it (it runs `python -m forkq`)."""
    try:
        done = subprocess.run([sys.executable, "-c", "import forkq.cli, forkq; "
                               "print(forkq.__version__)"], env=environ, capture_output=True,
                              text=True, timeout=60, cwd=BENCH)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if done.returncode != 0:
        return None, "forkq does not import: " + _tail(done.stderr)
    return done.stdout.strip(), None


def env(redis_url):
    """The environment every worker runs in: the bench's job modules and the repository first
    on the path, and none of forkq's settings inherited from the caller's shell."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("FORKQ_", "RESQUE_")) and k not in (
             "QUEUE", "QUEUES", "INTERVAL", "REDIS_URL", "VERBOSE", "LOGGING", "PIDFILE",
             "BACKGROUND", "GRACEFUL_TERM")}
    e["PYTHONPATH"] = os.pathsep.join([BENCH, ROOT] + ([os.environ["PYTHONPATH"]]
                                                       if os.environ.get("PYTHONPATH") else []))
    e["BENCH_REDIS_URL"] = redis_url
    return e
