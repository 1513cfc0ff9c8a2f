"""The worker's children as a set: the one that takes jobs now, the ones on their way out, and
the fork server that forks them (or the guard that ends their groups if the worker dies, when
the worker forks them itself). Spawning, letting go and reaping; as PID 1, orphans too."""
import os
import signal
import time

from forkq.proc import reap, timeouts
from forkq.proc.handle import Child


class Children:
    def __init__(self, ctx, log, term_timeout, forkserver=None, guard=None):
        self.ctx = ctx
        self.log = log
        self.term_timeout = term_timeout
        self.forkserver = forkserver
        self.guard = guard    # forkq.proc.guard.Guard, when the worker forks children itself
        self.current = None   # the child that takes jobs now, if any
        self.exiting = []     # children that took their last job and are on their way out

    def spawn(self, job, message):
        """A new child for `job` becomes the current one. OSError when the fork fails."""
        server = self.forkserver
        if server is not None and server.dead:
            self.log.event("error", "the fork server %d died; forking from the worker from "
                           "now on" % server.pid)
            server.discard()
            self.forkserver = server = None
            if self.guard is None:  # the server no longer ends children's groups if we die
                from forkq.proc.guard import Guard
                self.guard = Guard.start(self.ctx.titles)
        if server is None or self.ctx.jobs_per_child > 1:
            child = Child.spawn(job, self.ctx)
            if self.guard is not None:
                child.guard = self.guard
                self.guard.watch(child.pid)
        else:
            child = Child.served(server, message, job.class_name)
        self.current = child
        return child

    def let_go(self, child):
        """This child takes no more jobs: it exits on its own; reaped later (SIGCHLD)."""
        child.retire()
        if child is self.current:
            self.current = None
        if child.status is not None:
            self.reaped(child)
        else:
            self.exiting.append(child)

    def let_all_go(self):
        if self.current is not None:
            self.let_go(self.current)

    def end_current(self):
        """On the way out: a child still running (an internal error got us here) is ended."""
        if self.current is not None and self.current.status is None:
            timeouts.kill_group(self.current.pid, signal.SIGTERM)

    @property
    def served(self):
        """Children of the fork server announce their exits on its socket, not by SIGCHLD."""
        return self.forkserver is not None

    def reap_exiting(self):
        """Reap children that have exited; KILL one that outstays --term-timeout."""
        now = time.monotonic()
        for child in list(self.exiting):
            if child.exited():
                self.exiting.remove(child)
                self.reaped(child)
            elif now - child.retired_at > self.term_timeout:
                timeouts.kill_group(child.pid, signal.SIGKILL)

    def reaped(self, child):
        child.close()
        timeouts.forget_term(child.pid)
        if child.held_event is not None:  # its last job's line, waiting for this exit status
            name, message, fields = child.held_event
            child.held_event = None
            self.log.event(name, message, **dict(fields, **child.exit_fields()))
        elif not child.exit_told and not child.line_due:
            self.log.event("child_exit", pid=child.pid, jobs=child.jobs_sent,
                           **child.exit_fields())

    def after_signals(self, sigchld, init):
        """Once a pass of the loop: reap on SIGCHLD (as PID 1, orphans too). A fork server's
        children announce their exits on its socket, not by SIGCHLD: while children are
        leaving, every pass reaps."""
        if sigchld or (self.served and self.exiting):
            self.reap_exiting()
        if sigchld and init:
            self.reap_orphans()

    def reap_orphans(self):
        """As PID 1 (a container's init), orphans are ours to reap: every child that has
        exited and is not one we know, whose status Child.exited needs, is reaped now."""
        ours = {c.pid for c in self.exiting}
        for known in (self.current, self.forkserver, self.guard):
            if known is not None:
                ours.add(known.pid)
        for pid in reap.child_pids():
            if pid in ours:
                continue
            try:
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG)
            except ChildProcessError:
                pass

    def wake_fds(self):
        """What to select on besides our own fds: a live fork server's socket."""
        server = self.forkserver
        return (server,) if server is not None and not server.dead else ()

    def poll_server(self, ready):
        """Take what the fork server sent (exits are kept for Child.exited), if the select over
        `ready` says there is something. Called after every wait: an EOF there marks it dead,
        or its socket would wake every select at once."""
        if self.forkserver is not None and not self.forkserver.dead:
            self.forkserver.note_ready(ready)
            self.forkserver.poll()

    def stop_server(self):
        server, self.forkserver = self.forkserver, None  # its socket is closed: never waited on
        if server is not None:
            server.stop()
        if self.guard is not None:
            self.guard.stop()
