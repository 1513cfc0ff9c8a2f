"""The scheduler: resque-scheduler's job, on resque-scheduler's keys (contract §12).

  ticker.py     Scheduler.tick(): the one call a loop makes (lock, due jobs, schedules)
  lock.py       the master lock's value (Ruby's host resolution) and the master/standby role
  mover.py      where each due delayed item goes; a batch per atomic script
  schedules.py  a cron/every schedule and its next fires (cronsim)
  recurring.py  the master's schedules: load, follow changes, fire once per slot
  process.py    `forkq scheduler`: one thread, one select, signals as flags
  attach.py     `forkq work --scheduler`: the same ticks in the worker's loop

All Redis I/O is in forkq/store/scheduling.py and the Lua scripts beside it.
"""
