"""Write man/forkq.1 and man/forkq-<command>.1 from the click commands and forkq's tables
(options, signals, exit codes), and the tables between `.. forkq:NAME` and `.. forkq:end` in
README.rst and docs/*.rst, so the pages and the docs describe exactly what exists.

    python man/build.py          # rewrite the pages and the tables
    python man/build.py --check  # exit 1 if any is out of date (the test suite runs this)
"""
import glob
import os
import re
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import click  # noqa: E402

from forkq import __version__  # noqa: E402
from forkq.cli.app import cli, load_commands  # noqa: E402
from forkq.errors import EXIT_MEANINGS, ExitCode  # noqa: E402
from forkq.proc import pool as pool_mod  # noqa: E402
from forkq.proc.signals import SIGNALS  # noqa: E402

load_commands()  # the admin commands register themselves on `cli`

DATE = "2026-11-23"

# The admin commands (everything but work and pool) end the same way.
ADMIN_EXIT = (
    (0, "done (for info --watch: stopped by --count or an interrupt)"),
    (1, "something asked for could not be done: an index, queue or key that does not exist, a "
        "failed entry that could not be retried, a worker that was not signalled (the other "
        "items are still acted on, and each is reported), or an error from Redis"),
    (2, "bad command line (click's usage error), for example INDEX... with --all"),
    (int(ExitCode.UNAVAILABLE), EXIT_MEANINGS[ExitCode.UNAVAILABLE]),
    (int(ExitCode.CONFIG), EXIT_MEANINGS[ExitCode.CONFIG]),
)

POOL_EXIT = (
    (0, "stopped by QUIT, TERM or INT, once every worker had exited"),
    (2, "bad command line or config file"),
)

KEYS = (("queues", "set of queue names"), ("queue:<q>", "list of job JSON"),
        ("failed", "list of failure JSON"), ("workers", "set of worker ids host:pid:queues"),
        ("worker:<id>", "the job a worker is on, only while it runs"),
        ("worker:<id>:started", "when the worker started"),
        ("workers:heartbeat", "hash of heartbeats, from Redis TIME"),
        ("stat:processed, stat:failed", "counters, also per worker id"),
        ("pruning_dead_workers_in_progress", "the prune lock"),
        ("pause-all-workers", "pauses every worker when true"),
        ("delayed_queue_schedule, delayed:<ts>, timestamps:<item>",
         "resque-scheduler's delayed jobs (forkq-delayed(1))"),
        ("persistent_schedules, schedules_changed, delayed:last_enqueued_at",
         "resque-scheduler's recurring schedules (forkq-schedule(1))"),
        ("resque_scheduler_master_lock", "the scheduler's master lock (forkq-scheduler(1))"))

EXAMPLES = {
    "work": ["forkq work --queues critical,default --require myapp.jobs",
             "QUEUE=* INTERVAL=0 forkq work --require myapp.jobs   # drain all, then exit"],
    "pool": ["forkq pool -n 4 -q critical,default -- --require myapp.jobs",
             "forkq pool -c /etc/forkq/pool.conf -- --require myapp.jobs"],
    "failed": ["forkq failed list --queue mail",
               "forkq failed retry --all --class Mailers::Signup",
               "forkq failed retry 7 --requeue-to mail   # an entry without a queue",
               "forkq failed remove 0 3",
               "forkq failed remove --all --queue mail"],
    "enqueue": ["forkq enqueue Mailers::Signup 42 '{\"plan\":\"pro\"}' --queue mail"],
    "info": ["forkq info --watch 2",
             "forkq info --watch 10 --json | while read -r line; do ...; done"],
    "workers": ["forkq workers --json", "forkq workers --working"],
    "queues": ["forkq queues", "forkq queues show mail --start 20",
               "forkq queues remove old_mail --yes"],
    "stats": ["forkq stats", "forkq stats redis", "forkq stats keys",
              "forkq stats --key queue:mail --start 100 --count 10"],
    "prune": ["forkq prune"],
    "pause": ["forkq pause", "forkq pause --worker $(hostname):4711:default"],
    "resume": ["forkq resume"],
    "web": ["forkq web                                  # http://127.0.0.1:5678/",
            "forkq web --read-only --bind 0.0.0.0:5678 --auth-file /etc/forkq/web.auth",
            "FORKQ_WEB_AUTH=ops:secret forkq web --prefix /forkq"],
    "metrics": ["forkq metrics",
                "forkq metrics > /var/lib/node_exporter/textfile/forkq.prom"],
    "scheduler": ["scheduler: forkq scheduler --require myapp.jobs   # a Procfile line",
                  "forkq work --queues default --scheduler   # or in a worker's own loop",
                  "LOCK_TIMEOUT=30 forkq scheduler   # a standby takes over 30 s after a crash"],
    "delayed": ["forkq enqueue Mailers::Signup 42 --queue mail --in 300",
                "forkq enqueue Report '\"daily\"' --queue reports --at 2027-01-01T06:00:00Z",
                "forkq delayed list", "forkq delayed show 1798761600",
                "forkq delayed remove Mailers::Signup 42 --queue mail",
                "forkq delayed enqueue-now 1798761600", "forkq delayed clear --yes"],
    "schedule": ["forkq schedule add nightly --cron '0 3 * * *' --tz Europe/Berlin "
                 "--class Reports::Nightly --queue reports",
                 "forkq schedule add tick --every 30s --class Tick --queue ticks --args '[1]'",
                 "forkq schedule load config/resque_schedule.yml --replace",
                 "forkq schedule list", "forkq schedule remove tick"],
}

# What the scheduler pages add: its signals, exit codes and the keys it speaks (§12).
SCHEDULER_EXIT = (
    (0, "stopped by TERM, INT or QUIT; the master lock released if it was held"),
    (2, "bad command line"),
    (int(ExitCode.CONFIG), "bad configuration: an --interval not below --lock-timeout, a "
                           "--require that fails"),
)


def esc(text):
    return str(text).replace("\\", "\\e").replace("-", "\\-").replace("'", "\\(aq")


def para(text):
    lines = []
    for block in str(text).strip().split("\n\n"):
        lines.append(".PP")
        lines.append(esc(" ".join(block.split())))
    return lines


def options_section(command):
    out = [".SH OPTIONS"]
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        flags = ", ".join("\\fB%s\\fR" % esc(o) for o in param.opts + param.secondary_opts)
        if not param.is_flag and param.metavar:
            flags += " \\fI%s\\fR" % esc(param.metavar)
        elif not param.is_flag:
            flags += " \\fI%s\\fR" % esc(param.type.name.upper())
        out += [".TP", flags, esc(param.help or "")]
    out += [".TP", "\\fB\\-h\\fR, \\fB\\-\\-help\\fR", "Show the help and exit."]
    return out


def synopsis(path, command):
    args = " ".join(a.make_metavar(click.Context(command)) if hasattr(a, "make_metavar") else
                    a.name.upper() for a in command.params if isinstance(a, click.Argument))
    return [".SH SYNOPSIS", ".B %s" % esc(path), ".RI [ options ]"] + \
        ([".I %s" % esc(args)] if args else [])


def header(name, summary):
    return ['.TH %s 1 "%s" "forkq %s" "forkq manual"' % (name.upper().replace("-", "\\-"), DATE,
                                                         __version__),
            ".SH NAME", "%s \\- %s" % (esc(name), esc(summary))]


def examples(name):
    out = [".SH EXAMPLES", ".nf", ".RS"]
    out += [esc(line) for line in EXAMPLES.get(name, [])]
    return out + [".RE", ".fi"]


def summary_of(command):
    """A command's first paragraph, whole (click's short help cuts it off with "...")."""
    return " ".join((command.help or "").strip().split("\n\n")[0].split())


def command_page(name, command):
    path = "forkq " + name
    summary = " ".join((command.help or "").strip().split("\n\n")[0].split())
    summary = summary.split(" (")[0].rstrip(".")
    out = header("forkq-" + name, summary) + synopsis(path, command)
    out += [".SH DESCRIPTION"] + para(command.help or summary)
    if isinstance(command, click.Group):
        if any(isinstance(p, click.Option) for p in command.params):
            out += options_section(command)
        out.append(".SH COMMANDS")
        for sub_name, sub in sorted(command.commands.items()):
            out += [".TP", ".B %s %s" % (esc(path), esc(sub_name))] + \
                [esc(" ".join((sub.help or "").split()))]
        for sub_name, sub in sorted(command.commands.items()):
            out += [".SH \"%s\"" % esc((path + " " + sub_name).upper())]
            out += synopsis(path + " " + sub_name, sub)[1:]
            out += [".PP", esc(" ".join((sub.help or "").split()))]
            for line in options_section(sub)[1:]:
                out.append(line)
    else:
        out += options_section(command)
    if name == "work":
        out += signals_section() + exit_section()
    elif name == "pool":
        out += pool_sections() + exit_table(POOL_EXIT)
    elif name == "scheduler":
        out += scheduler_sections() + exit_table(SCHEDULER_EXIT)
    elif name in ("delayed", "schedule"):
        out += scheduler_keys() + exit_table(ADMIN_EXIT)
    else:
        out += exit_table(ADMIN_EXIT)
    if name == "work":
        out += retry_sections()
    out += examples(name)
    out += [".SH SEE ALSO", ".BR forkq (1)"]
    return "\n".join(out) + "\n"


def retry_sections():
    from forkq.wire.retry_keys import KEYS as RETRY_KEYS
    out = [".SH RETRIES AND UNIQUE JOBS"] + para("""A job registered with
        @forkq.job(retry=N, backoff=..., retry_on=..., give_up_on=...) is retried after any
        failure (an exception, a timeout, a killed child, --max-child-rss, a dead worker) as
        resque-retry retries it, through resque-scheduler's delayed set: run a scheduler
        (--scheduler, forkq-scheduler(1) or Ruby's); without one the worker warns at start-up.
        With unique=until_executing, until_executed or while_executing (and lock_ttl=) an
        identical job is refused at enqueue or deferred while another holds the lock. The
        options: docs/retries.rst.""")
    out += [".PP", "Keys, under the namespace:"]
    for key, what in RETRY_KEYS:
        out += [".TP", ".B %s" % esc(key), esc(what) + "."]
    return out


def signals_section():
    out = [".SH SIGNALS", ".PP", "The parent's handlers only record a signal and wake its loop; "
           "the loop acts on it."]
    for _sig, name, what in SIGNALS:
        out += [".TP", ".B %s" % name, esc(what) + "."]
    return out


def scheduler_sections():
    from forkq.scheduler.process import SIGNALS as SCHEDULER_SIGNALS
    out = [".SH SIGNALS", ".PP", "Handlers only record a signal and wake the scheduler's "
           "select; its loop acts on it."]
    for _sig, name, what in SCHEDULER_SIGNALS:
        out += [".TP", ".B %s" % name, esc(what) + "."]
    out += [".SH MASTER AND STANDBY"] + para("""Every tick takes or renews resque-scheduler's
        own master lock in one script, with exactly the effects of Ruby's acquire and locked
        scripts, so Ruby's resque-scheduler and forkq's exclude each other. Only the master
        moves due delayed jobs and fires schedules; a standby takes over when the lock expires
        (--lock-timeout after a master dies, at its next tick after a clean exit). All times
        are Redis's TIME, read in the scripts that act on them. The process title and the log
        say master or standby.""")
    return out + scheduler_keys()


def scheduler_keys():
    from forkq.wire.scheduler import KEYS as SCHEDULER_KEYS
    out = [".SH REDIS KEYS", ".PP", "resque-scheduler 5.0's, under the namespace:"]
    for key, what in SCHEDULER_KEYS:
        out += [".TP", ".B %s" % esc(key), esc(what) + "."]
    return out


def pool_sections():
    out = [".SH SIGNALS", ".PP", "The pool's handlers only record a signal and wake its loop; "
           "the loop acts on it. Each worker then acts as \\fBforkq\\-work\\fR(1) says."]
    for name, what in pool_mod.SIGNALS:
        out += [".TP", ".B %s" % name, esc(what) + "."]
    out += [".SH CONFIG FILE"] + para(pool_mod.CONFIG_FORMAT)
    out += [".PP", "For example:", ".PP", ".nf", ".RS"]
    out += [esc(line) for line in pool_mod.CONFIG_EXAMPLE] + [".RE", ".fi"]
    out += [".SH RESTARTS"] + para(pool_mod.RESTARTS)
    return out


def exit_table(rows):
    out = [".SH EXIT STATUS"]
    for code, meaning in rows:
        out += [".TP", ".B %d" % code, esc(meaning) + "."]
    return out


def exit_section():
    out = [".SH EXIT STATUS"]
    for code in sorted(ExitCode, key=int):
        out += [".TP", ".B %d" % int(code), "%s: %s." % (code.name,
                                                       esc(EXIT_MEANINGS[code]))]
    return out


def overview_page():
    out = header("forkq", "a forking Python worker that speaks Resque's Redis protocol")
    out += [".SH SYNOPSIS", ".B forkq", ".I command", ".RI [ options ]", ".br",
            ".B python \\-m forkq", ".I command", ".RI [ options ]", ".SH DESCRIPTION"]
    out += para("""forkq work reserves jobs from Redis lists in Resque's layout, in queue order,
        and performs each in a forked child under a timeout enforced by signals. Jobs are Python
        functions or classes registered with @forkq.job in the modules named by --require; no
        other name is ever run, and nothing a payload names is ever imported. Failures go to
        Resque's failed list in Resque's format; the worker registers and heartbeats itself as a
        Ruby worker does, so resque-web lists it and Ruby's pruning treats it as a peer.

        Every job ends in exactly one record written by the parent: done (stat:processed), or
        one failed entry that says what happened (the job's exception, or how its child died,
        in words).""")
    out.append(".SH COMMANDS")
    for name, command in sorted(cli.commands.items()):
        out += [".TP", ".BR forkq\\-%s (1)" % esc(name), esc(summary_of(command))]
    out += [".SH ENVIRONMENT", ".PP", "Every option of every command can be set in the "
            "environment; each command's page names the variables. forkq's own FORKQ_* names "
            "win over Resque's (QUEUES, QUEUE, INTERVAL, PIDFILE, VERBOSE, GRACEFUL_TERM, "
            "BACKGROUND, RESQUE_TERM_TIMEOUT, RESQUE_PRE_SHUTDOWN_TIMEOUT, "
            "RESQUE_PROCLINE_PREFIX), and REDIS_URL gives the server (default "
            "redis://localhost:6379/0)."]
    out += signals_section() + exit_section()
    out.append(".SH REDIS KEYS")
    out += [".PP", "All under the namespace (default resque:), as Resque 3.0 writes them:"]
    for key, what in KEYS:
        out += [".TP", ".B %s" % esc(key), esc(what) + "."]
    out += [".SH EXAMPLES", ".nf", ".RS", esc("forkq work --queues default --require forkq.example"),
            esc("forkq enqueue Hello '\"world\"' --queue default"),
            esc("worker: forkq work --queues critical,default --require myapp.jobs   # Procfile"),
            ".RE", ".fi", ".SH SEE ALSO"]
    out.append(", ".join(".BR forkq\\-%s (1)" % esc(n) for n in sorted(cli.commands)).replace(
        ", .BR", "\n.BR"))
    return "\n".join(out) + "\n"


def rst_table(headers, rows, width=100):
    """A reStructuredText simple table whose last column wraps to keep lines <= width."""
    widths = [max(len(h), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers[:-1])]
    last = width - sum(w + 2 for w in widths)
    rule = "  ".join(["=" * w for w in widths] + ["=" * last])
    out = [rule, "  ".join([h.ljust(w) for h, w in zip(headers, widths)] + [headers[-1]]).rstrip(),
           rule]
    for row in rows:
        lines = textwrap.wrap(str(row[-1]), last, break_on_hyphens=False,
                              break_long_words=False) or [""]
        out.append("  ".join([str(c).ljust(w) for c, w in zip(row, widths)] + [lines[0]]))
        out += [" " * (sum(w + 2 for w in widths)) + more for more in lines[1:]]
    return "\n".join(out + [rule])


def rst_tables():
    """The docs' copies of forkq's tables, by the name their markers use."""
    return {
        "signals": rst_table(("Signal", "What the worker does"),
                             [(name, what) for _sig, name, what in SIGNALS]),
        "exit-codes": rst_table(("Code", "Name", "Meaning"),
                                [(int(c), c.name, EXIT_MEANINGS[c]) for c in sorted(ExitCode)]),
        "admin-exit-codes": rst_table(("Code", "Meaning"), list(ADMIN_EXIT)),
    }


MARKED = re.compile(r"(^\.\. forkq:([a-z-]+)[^\n]*\n)(.*?)(^\.\. forkq:end$)", re.M | re.S)


def with_tables(text, tables):
    def fill(match):
        if match.group(2) not in tables:
            raise SystemExit("unknown table %r (known: %s)" % (match.group(2), sorted(tables)))
        return "%s\n%s\n\n%s" % (match.group(1), tables[match.group(2)], match.group(4))
    return MARKED.sub(fill, text)


def pages():
    yield "forkq.1", overview_page()
    for name, command in sorted(cli.commands.items()):
        yield "forkq-%s.1" % name, command_page(name, command)
    root = os.path.dirname(HERE)
    tables = rst_tables()
    for path in [os.path.join(root, "README.rst")] + sorted(
            glob.glob(os.path.join(root, "docs", "*.rst"))):
        with open(path) as fh:
            yield os.path.relpath(path, HERE), with_tables(fh.read(), tables)


def main():
    check = "--check" in sys.argv
    stale = []
    for filename, text in pages():
        path = os.path.normpath(os.path.join(HERE, filename))
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            stale.append(filename)
            if not check:
                with open(path, "w") as fh:
                    fh.write(text)
    if check and stale:
        print("out of date: %s (run python man/build.py)" % ", ".join(stale))
        sys.exit(1)


if __name__ == "__main__":
    main()
