"""One job from its reserve to its outcome: decode and look it up, hand it to a child, and watch
it (its report, its end, its deadline, its memory, the plan to end it). The loop owns the
waiting; a Supervision says when it next needs a tick and what became of the job."""
import time

from forkq import errors, wire
from forkq.api import hooks
from forkq.api import registry
from forkq.errors import InvalidPayload
from forkq.proc import child as child_mod
from forkq.proc import timeouts
from forkq.worker.outcome import Outcome
from forkq.worker.record import Pending

RSS_POLL = 0.5
INF = float("inf")


def prepare(reserved, titles, log):
    """(child.Job, queue latency) for the reserved job, or a Pending when it cannot run (a
    payload that is not a job, an unknown class)."""
    now = time.time()
    try:
        payload = wire.decode_payload(reserved.raw)
    except InvalidPayload as exc:
        return Pending(reserved.queue, reserved.raw, Outcome(
            False, errors.exception_name(exc), str(exc), count_failed=True),
            payload_is_json=exc.is_object)
    spec = registry.lookup(payload["class"])
    if spec is None:
        known = ", ".join(registry.registered()) or "none"
        return Pending(reserved.queue, reserved.raw, Outcome(
            False, errors.exception_name(errors.UnknownJob),
            "No job is registered as %r (this worker knows: %s). forkq runs only "
            "registered jobs and never imports a name a payload gives."
            % (payload["class"], known), count_failed=True),  # Ruby: NameError, counted
            job_class=payload["class"])
    job = child_mod.Job(reserved.queue, reserved.raw, payload, spec, now)
    titles.processing(job.queue, int(now), job.class_name)
    since = wire.enqueued_at(payload)
    latency = round(now - since, 4) if since is not None else None
    log.event("reserved", queue=job.queue, job=job.class_name, queue_latency=latency)
    return job, latency


def launch(job, latency, rules, children, config, titles, log, settle):
    """Hand `job` to a child (a live one that takes more jobs, or a new fork). Returns a
    Supervision, or a Pending when no child runs it (a failing before_fork hook; a failed
    fork, which requeues it). `settle(outcome)` is the outcome's retry settlement."""
    now = job.reserved_at
    try:
        hooks.run("before_fork", job)
    except Exception as exc:
        outcome = Outcome(False, errors.exception_name(exc), "before_fork hook failed: %s" % exc,
                          child_mod.backtrace(exc), count_failed=True)
        return Pending(job.queue, job.raw, outcome, job_class=job.class_name,
                       settlement=settle(outcome))
    child = children.current
    message = {"queue": job.queue, "raw": job.raw, "at": job.reserved_at}  # framed as Redis gave it
    if child is None or not child.accepting or not child.send_job(message):
        if child is not None:
            children.let_go(child)
        try:
            child = children.spawn(job, message)
        except OSError as exc:  # EAGAIN/ENOMEM: the job goes back, we back off
            log.event("error", "fork failed: %s" % exc)
            outcome = Outcome(False, requeue=True, error="fork failed: %s" % exc)
            return Pending(job.queue, job.raw, outcome, None, now, latency=latency,
                           job_class=job.class_name, settlement=settle(outcome))
        titles.forked(child.pid, int(time.time()))
    return Supervision(job, child, config, now, latency, rules)


class Starter:
    """From a reserved job to a child running it: look it up, count its attempt and take its
    lock (retry/unique options: a Redis call the loop retries), run before_fork, hand it to a
    child. Each step that cannot go on gives the job's Pending record instead."""

    def __init__(self, retries, children, config, titles, log):
        self.retries = retries
        self.children = children
        self.config = config
        self.titles = titles
        self.log = log

    def prepare(self, reserved):
        return prepare(reserved, self.titles, self.log)

    def begin(self, prepared, attempt, failed, claim_sha):
        """`attempt(op, *args)` runs a Redis call or answers `failed` (then call again)."""
        job, latency = prepared
        begun = attempt(self.retries.begin, job.spec, job.class_name, job.args, job.queue,
                        claim_sha)
        if begun is failed:
            return failed
        rules, go = begun
        if not go:  # a while_executing twin runs: this one comes back later
            return Pending(job.queue, job.raw, Outcome(True, skipped=True),
                           started=job.reserved_at, job_class=job.class_name,
                           settlement=rules.deferred())
        return launch(job, latency, rules, self.children, self.config, self.titles, self.log,
                      lambda outcome: self.settle(job, outcome, rules))

    def settle(self, job, outcome, rules):
        return self.retries.settle(job.spec, job.args, outcome, rules)


class Supervision:
    """A job running in `child`: its deadline (its timeout plus --grace), the RSS guard and the
    escalation (wait → TERM → KILL to the child's group) once one is planned."""

    def __init__(self, job, child, config, started, latency, rules=None):
        self.job = job
        self.rules = rules              # its retry and unique options (worker.retries)
        self.child = child
        self.config = config
        self.started = started          # wall clock, for the record's duration
        self.latency = latency
        self.begun = time.monotonic()
        self.timeout = job.spec.timeout_or(config.timeout)
        self.deadline = self.begun + self.timeout + config.grace if self.timeout else None
        self.next_rss = self.begun + RSS_POLL if config.max_child_rss else None
        self.escalation = None

    def next_at(self):
        """When a tick must next act for this job."""
        due = INF
        if self.deadline is not None and self.escalation is None:
            due = self.deadline
        if self.escalation is not None and self.escalation.next_at() is not None:
            due = min(due, self.escalation.next_at())
        if self.next_rss is not None:
            due = min(due, self.next_rss)
        return due

    def tick(self, now, log):
        """The job's deadline, its memory, and whatever signal of the escalation is due."""
        if self.deadline is not None and now >= self.deadline and self.escalation is None:
            self.escalate("timed out after %s s" % timeouts.format_seconds(self.timeout), 0,
                          log)
        if self.next_rss is not None and now >= self.next_rss:
            self.next_rss = now + RSS_POLL
            self.check_rss(log)
        if self.escalation is not None:
            self.escalation.step(now)

    def escalate(self, reason, wait, log):
        """Plan to end the child: wait, TERM its group, KILL after --term-timeout. A plan that
        acts sooner replaces the current one."""
        if self.child.status is not None:
            return
        child = self.child  # a fork server's child may not have its pid yet: asked when due
        plan = timeouts.Escalation.start(lambda: child.pid, reason, wait,
                                         self.config.term_timeout)
        if self.escalation is None or (plan.next_at() or 0) < (self.escalation.next_at() or 0):
            self.escalation = plan
            log.event("warning", "ending child %s: %s" % (self.child.pid or "(not forked yet)",
                                                          reason))

    def check_rss(self, log):
        try:
            import psutil
            rss = psutil.Process(self.child.pid).memory_info().rss / 1048576.0
        except Exception:
            return
        if rss > self.config.max_child_rss and self.escalation is None:
            self.escalate("memory limit: child used %.0f MB > --max-child-rss %s MB"
                          % (rss, timeouts.format_seconds(self.config.max_child_rss)), 0, log)

    def outcome(self):
        """The job's Outcome once its child reported or ended; None while it runs."""
        child = self.child
        child.read()
        if not child.reports and child.exited():
            child.read()
            if not child.reports:
                return Outcome.from_exit(child, time.monotonic() - self.begun, self.escalation)
        if child.reports:
            return Outcome.from_report(child.reports.popleft())
        return None

    def record(self, outcome, requeue_on_stop, settle):
        """The job's Pending record. A job ended by a shutdown goes back to its queue when
        `requeue_on_stop` (--requeue-on-shutdown and a TERM/INT); `settle(outcome)` is its
        retry settlement."""
        if self.escalation is not None and not outcome.ok and requeue_on_stop:
            outcome.requeue = True
        job = self.job
        return Pending(job.queue, job.raw, outcome, self.child, self.started,
                       latency=self.latency, job_class=job.class_name,
                       settlement=settle(outcome))

    def child_done(self, jobs_per_child):
        """True if the child takes no next job (it ended, or has done its share)."""
        child = self.child
        return child.status is not None or not child.accepting or \
            child.jobs_sent >= jobs_per_child
