"""Runs first in bench/run.py, with nothing but the standard library: on a fresh clone the system
python3 lacks forkq's dependencies (psutil, redis-py, click, setproctitle), and a distribution's
python3 refuses pip installs into itself (PEP 668). So, as tests/run.sh does, the bench makes a
virtualenv (the same one the test command makes: .venv at the repository's root, or
$FORKQ_TEST_VENV), installs forkq into it (`pip install -e .`) and runs itself again there.
An interpreter that already has everything (a venv with forkq installed) is used as it is.
redis-server comes from apt when missing, again as tests/run.sh does.
"""
import importlib.util
import os
import shutil
import subprocess
import sys

NEEDED = ("redis", "psutil", "click", "setproctitle")
AGAIN = "FORKQ_BENCH_BOOTSTRAPPED"  # set in the re-run: never loop if the install misbehaves


def _say(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def _apt(*packages):
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    _say("apt-get install %s …" % " ".join(packages))
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    return subprocess.run(["apt-get", "install", "-y", "-qq", *packages],
                          stdout=subprocess.DEVNULL).returncode == 0


def missing(python=None):
    if python is None:
        return [m for m in NEEDED if importlib.util.find_spec(m) is None]
    probe = "import importlib.util as u, sys; print(','.join(m for m in sys.argv[1:] " \
            "if u.find_spec(m) is None))"
    done = subprocess.run([python, "-c", probe, *NEEDED], capture_output=True, text=True)
    return [m for m in done.stdout.strip().split(",") if m] if done.returncode == 0 else ["?"]


def ensure(root, argv):
    """Return if this interpreter can run the bench; otherwise re-run it in the venv (exec)."""
    if shutil.which("redis-server") is None and not _apt("redis-server"):
        _say("redis-server not found and apt-get is not available: install redis-server")
    lacking = missing()
    if not lacking:
        return
    if os.environ.get(AGAIN):
        sys.exit("bench: %s still missing in %s after the install" % (", ".join(lacking),
                                                                       sys.executable))
    venv = os.environ.get("FORKQ_TEST_VENV") or os.path.join(root, ".venv")
    if not os.path.isabs(venv):
        venv = os.path.join(root, venv)
    python = os.path.join(venv, "bin", "python")
    _say("%s lacks %s: using the virtualenv %s" % (sys.executable, ", ".join(lacking), venv))
    if not os.path.exists(python):
        made = subprocess.run([sys.executable, "-m", "venv", venv])
        if made.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            if not _apt("python3-venv"):
                sys.exit("bench: python3 -m venv failed (apt-get install python3-venv)")
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if missing(python):
        _say("pip install -e %s into it (once) …" % root)
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-e", root], check=True)
    os.environ[AGAIN] = "1"
    os.execv(python, [python, os.path.abspath(argv[0]), *argv[1:]])
