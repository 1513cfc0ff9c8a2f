"""forkq.proc.reap: the one reap routine ends a job's child, its group and its strays.

Each case runs in a fresh interpreter: a subreaper collects every orphan below it, which the
test runner itself must not become."""
import subprocess
import sys
import textwrap

from harness import ROOT

SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, %r)
    from forkq.proc import kernel, reap
    assert kernel.become_subreaper()
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        g = os.fork()
        if g == 0:
            os.setsid()  # out of the job's group and session
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)
            os.write(w, b"%%d\\n" %% os.getpid())
            time.sleep(60)
            os._exit(0)
        MODE
    sidecar = os.fork()  # a process of ours the caller keeps (a helper, say)
    if sidecar == 0:
        time.sleep(60)
        os._exit(0)
    grandchild = int(os.read(r, 64).split()[0])
    deadline = time.monotonic() + 10
    ended = None
    while ended is None and time.monotonic() < deadline:
        ended = reap.reap(child, keep={sidecar})
        time.sleep(0.01)
    status, rss, cpu = ended
    def gone(pid):
        try:
            with open("/proc/%%d/stat" %% pid) as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except OSError:
            return True
    print(os.WEXITSTATUS(status), rss > 0, gone(grandchild), gone(sidecar) is SIDECAR_GONE)
    os.kill(sidecar, 9)
""")


def run(mode, sidecar_gone=False):
    code = SCRIPT.replace("MODE", mode).replace("SIDECAR_GONE", repr(sidecar_gone)) % ROOT
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_grandchild_in_its_own_session_dies_when_the_job_child_is_reaped():
    assert run("time.sleep(0.05); os._exit(3)") == ["3", "True", "True", "True"]


def test_a_stray_whose_parent_died_first_is_ended_too():
    # the child exits at once: the grandchild is re-parented to us before the child is reaped
    assert run("os._exit(0)") == ["0", "True", "True", "True"]
