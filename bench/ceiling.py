"""The lean fork-server ceiling: the floor loop (floor.py) with its children forked by a lean
fork server, one message to it and one status back per job.

Fork cost follows the size of the process that forks (its page tables are copied, and each page
either side writes afterwards faults). So the server is forked before redis-py is imported: it
holds the interpreter (and, with --app, the preloaded app) and nothing else. Per job the parent
pops and claims with one Lua script, sends the job to the server on a SOCK_SEQPACKET socket
(one datagram: no framing to parse), the server forks a child that exits at once, reaps it with
wait4 and sends back one datagram: the wait status and the child's peak RSS. Then the parent
writes done_working in one pipeline. The same 2 round trips and 6 Redis commands a job as the
floor; the difference between the two is the fork path alone.

It is what forkq's fork path could be at best, with nothing of forkq's guarantees (no timeouts,
no report pipe, no process titles, no orphan guard): a ceiling, not a contender to copy.

    python bench/ceiling.py URL [--queue bench] [--app]
"""
import argparse
import gc
import json
import os
import socket
import statistics
import struct
import sys

STATUS = struct.Struct("ii")  # wait status, child's ru_maxrss (KiB)


def serve(sock):
    """The server: fork per datagram, reap, answer. Exits when the parent's end closes."""
    while True:
        msg = sock.recv(65536)
        if not msg:
            os._exit(0)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        _pid, status, usage = os.wait4(pid, 0)
        sock.send(STATUS.pack(status, usage.ru_maxrss))


def start_server():
    parent, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        parent.close()
        try:
            serve(server)
        finally:
            os._exit(1)
    server.close()
    return pid, parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--queue", default="bench")
    parser.add_argument("--app", action="store_true", help="preload bigapp (~100 MB) first")
    args = parser.parse_args()
    if args.app:
        import bigapp  # noqa: F401  (the app lives in the server too: fork cost follows it)
    gc.freeze()  # as a preforking server would: the collector never touches shared pages
    server_pid, sock = start_server()

    import redis  # after the server is forked: it stays lean
    from floor import RESERVE

    r = redis.Redis.from_url(args.url)
    reserve = r.register_script(RESERVE)
    wid = "ceiling:%d:%s" % (os.getpid(), args.queue)
    claim = "resque:worker:" + wid
    queue = "resque:queue:" + args.queue
    maxrss = []
    while True:
        job = reserve(keys=[queue, claim])
        if job is None:
            break
        sock.send(job)
        status, rss = STATUS.unpack(sock.recv(STATUS.size))
        if status != 0:
            sys.exit("child exited with wait status %d" % status)
        maxrss.append(rss)
        pipe = r.pipeline(transaction=False)
        pipe.delete(claim)
        pipe.incrby("resque:stat:processed", 1)
        pipe.incrby("resque:stat:processed:" + wid, 1)
        pipe.execute()
    sock.close()
    os.waitpid(server_pid, 0)
    print(json.dumps({"children": len(maxrss),
                      "child_maxrss_kb": statistics.median(maxrss) if maxrss else None}))


if __name__ == "__main__":
    main()
