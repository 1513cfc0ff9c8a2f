"""How `forkq info` and `forkq workers` show resque-scheduler's side: the next delayed job,
the master lock's holder and forkq's running schedulers (master or standby)."""
import time

import click

from forkq.cli.common import table


def _when(ts):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def info_lines(data):
    """Lines after the delayed count of `forkq info`."""
    if "delayed_next" in data:
        ts = data["delayed_next"]
        late = data["time"] - ts if "time" in data else None
        click.echo("%-10s %s (%d)%s" % ("next due", _when(ts), ts,
                                        ", %ds overdue" % late if late and late > 1 else ""))
    if "schedulers" in data:
        rows = data["schedulers"]
        standby = sum(1 for s in rows if s.get("role") != "master")
        click.echo("%-10s master %s%s" % ("scheduler", data["scheduler_master"] or "none",
                                          ", %d standby" % standby if standby else ""))


def schedulers_table(admin):
    """The schedulers under `forkq workers` (text only: --json keeps its list of workers)."""
    from forkq.store.scheduling_admin import SchedulingAdmin
    who = SchedulingAdmin(admin.redis, admin.keys.prefix.rstrip(":")).schedulers(admin.now())
    if not who["schedulers"] and not who["master"]:
        return
    click.echo("")
    click.echo("scheduler master lock %s: %s" % (who["lock"], who["master"] or "free"))
    table([(s.get("id"), s.get("host"), s.get("pid"), s.get("role"), s.get("worker") or "",
            s.get("interval"), s.get("lock_timeout")) for s in who["schedulers"]],
          ("SCHEDULER", "HOST", "PID", "ROLE", "IN WORKER", "INTERVAL", "LOCK TTL"))
