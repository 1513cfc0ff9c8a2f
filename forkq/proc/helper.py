"""Starting a helper process of the worker (the fork server, the guard): one recipe.

A helper is forked from the CLI process before forkq imports redis-py, so it stays small. It
outlives nothing: its parent-death signal is SIGHUP, which it catches (a SIGKILLed worker
cannot clean up; its helper does), every other signal is only recorded (stopping is the
worker's call, and a TERM a platform sends to every process must not end it first), and it
checks its parent by pid too, since the worker may die before the prctl takes.
"""
import os
import signal
import sys

from forkq.proc import kernel, reap
from forkq.proc.signals import HANDLED, SignalBox


def start(titles, title, body, *args):
    """Fork a helper that runs `body(box, parent_pid, *args)` under `title` and exits 0 when
    it returns (1 if it raised). Returns its pid."""
    parent_pid = os.getpid()
    for stream in (sys.stdout, sys.stderr):  # or the helper repeats the parent's buffer
        stream.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            box = SignalBox()
            box.install(HANDLED + (signal.SIGHUP,))
            kernel.die_with_parent(signal.SIGHUP)
            titles.set(title % parent_pid)
            body(box, parent_pid, *args)
            code = 0
        finally:
            os._exit(code)
    reap.KEEP.add(pid)
    return pid


def parent_alive(parent_pid):
    return os.getppid() == parent_pid
