"""Jobs for tests/test_bad_text.py (imported with `-r jobs_w1`)."""
import os

from workerjobs import mark

import forkq


@forkq.job(name="BadFileName")
def bad_file_name(tag):
    mark("test:started", tag=tag)
    # what a job sees for a file whose name is not UTF-8: a lone surrogate in the text
    raise ValueError("cannot read " + os.fsdecode(b"\xfe.txt"))
