"""Jobs for the interop and Resque-compatibility tests (`-r jobs_interop`), reporting through
Redis lists as tests/workerjobs.py does."""
import os
import time

from workerjobs import mark

import forkq

ACTIVEJOB_WRAPPER = "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper"


@forkq.job(name=ACTIVEJOB_WRAPPER)
def activejob_wrapper(job_data):
    """What Rails enqueues: one hash argument, ActiveJob's serialized job. Its first argument
    says what to do ("sleep" N, "fail" message, anything else: record)."""
    action = job_data["arguments"][0]
    mark("test:started", tag="activejob", job_class=job_data["job_class"],
         job_id=job_data["job_id"], arguments=job_data["arguments"])
    if action == "sleep":
        time.sleep(job_data["arguments"][1])
    elif action == "fail":
        raise RuntimeError(job_data["arguments"][1])
    mark("test:done", job=job_data["job_class"], args=job_data["arguments"])


@forkq.job(name="SurrogateFail")
def surrogate_fail(raw_name):
    """A message that holds a lone surrogate, as os.fsdecode gives for a non-UTF-8 file name:
    it cannot be encoded to UTF-8 as is."""
    raise ValueError("cannot open %s" % os.fsdecode(raw_name.encode("latin-1")))
