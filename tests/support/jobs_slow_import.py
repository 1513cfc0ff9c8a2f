"""A --require module that takes its time to import, as a big app does: it says it started
(FORKQ_TEST_IMPORT_MARK) and waits for the test's go-ahead (MARK.go, at most 20 s), so a
test can read the process's argv/title while the app is still importing."""
import os
import time

_mark = os.environ["FORKQ_TEST_IMPORT_MARK"]
with open(_mark, "w") as _fh:
    _fh.write(str(os.getpid()))
_deadline = time.monotonic() + 20
while not os.path.exists(_mark + ".go") and time.monotonic() < _deadline:
    time.sleep(0.02)
