"""Section 4: forkq's memory. The parent's RSS over a long fork-per-job drain, and a job child's
private memory (USS) when the parent preloaded a ~100 MB app."""
import statistics
import time

import psutil
from drain import fill_resque, forkq_cmd
from latency import IdleWorker
from peers import BENCH, log
from sampler import Tree, measure


def memory(ctx, long_n, app_jobs):
    out = {}
    if ctx.forkq_missing:
        return {"error": ctx.forkq_missing}
    server = ctx.server
    if long_n:
        # parent RSS at the first job popped (imports, connections, the fork server already
        # behind it) and at the end: what a long-lived parent keeps growing by
        log("  memory: parent RSS over %d jobs" % long_n)
        server.fresh()
        fill_resque(server, long_n)
        try:
            m = measure(server, forkq_cmd(ctx), ctx.env, BENCH, long_n, "resque:queue:bench",
                        timeout=ctx.timeout(long_n))
        except Exception as exc:
            m = {"error": "%s: %s" % (type(exc).__name__, exc)}
        rss = m.get("parent_rss_mb")
        if "error" in m:
            out["long_run"] = m
        elif not rss:
            out["long_run"] = {"error": "no RSS sample after the first job and before the end"}
        else:
            out["long_run"] = {"jobs": long_n, "jobs_per_s": m["jobs_per_s"],
                               "start_job": rss["start_job"], "end_job": rss["end_job"],
                               "parent_rss_start_mb": rss["start"],
                               "parent_rss_end_mb": rss["end"],
                               "parent_rss_growth_mb": rss["end"] - rss["start"]}
    for label, extra in (("fork server (default)", []),
                         ("--no-fork-server", ["--no-fork-server"])):
        log("  memory: 100 MB app, " + label)
        try:
            out["app " + label] = app_memory(ctx, extra, app_jobs)
        except Exception as exc:
            out["app " + label] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    return out


def app_memory(ctx, extra, jobs):
    """An idle forkq worker that preloaded ~100 MB of Python objects (bench/bigapp.py) runs
    `jobs` jobs that sleep 50 ms; each child's USS (pages only it holds: what forking really
    costs) and peak RSS (shared pages included) are sampled while it runs."""
    server = ctx.server
    server.fresh()
    tree = Tree()
    worker = IdleWorker(server, ctx.env, [ctx.python, "-m", "forkq", "work", "--queues", "mem",
                                          "--require", "bigapp", "--redis-url", server.url]
                        + extra, "resque:workers")
    try:
        worker.ready()
        time.sleep(0.2)  # registered comes just before the first poll: let it settle
        tree.start(worker.proc.pid)
        parent_rss = psutil.Process(worker.proc.pid).memory_info().rss
        import forkq as forkq_api
        producer = forkq_api.Producer(server.r, namespace="resque")
        for _ in range(jobs):  # forkq's enqueue also wakes the idle worker (PUBLISH)
            producer.enqueue("Hold", 0.05, queue="mem")
        deadline = time.monotonic() + 30 + jobs
        while int(server.r.get("resque:stat:processed") or 0) < jobs:
            if time.monotonic() > deadline:
                raise RuntimeError("jobs not done in time")
            tree.tick(uss=True)
            time.sleep(0.005)
        helpers = []
        for pid in tree.helpers:
            try:
                helpers.append(psutil.Process(pid).memory_full_info().uss)
            except psutil.Error:
                pass
    finally:
        worker.stop()
    if not tree.uss:
        return {"error": "no child caught running"}
    return {"parent_rss_mb": parent_rss / 1e6,
            "child_uss_mb": statistics.median(tree.uss.values()) / 1e6,
            "child_rss_mb": statistics.median(tree.peak.values()) / 1e6,
            "fork_server_uss_mb": helpers[0] / 1e6 if helpers else None,
            "children_sampled": len(tree.uss), "children_expected": jobs}
