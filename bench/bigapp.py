"""A preloaded app of ~100 MB of Python objects, for the child memory (USS) measurement."""
import jobs_forkq  # noqa: F401  (the jobs)

DATA = [{"k%d" % i: "v" * 50, "n": i} for i in range(300000)]
