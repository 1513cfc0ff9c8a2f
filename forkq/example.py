"""Example jobs, so a fresh install has something to run:

    forkq work --queues default --require forkq.example
    forkq enqueue Hello '"world"' --queue default       # or, from Python:
    python -c 'import forkq, forkq.example; forkq.enqueue("Hello", "world")'
"""
import os
import time

import forkq


@forkq.job(name="Hello", queue="default")
def hello(name="world"):
    print("Hello, %s! (from forkq child %d)" % (name, os.getpid()), flush=True)


@forkq.job(name="Mailers::Signup", queue="default", timeout=30)
def signup(user_id, options=None):
    """Named as a Ruby class, so `Resque.enqueue(Mailers::Signup, 42)` in Ruby runs this."""
    print("signup mail for user %s %s" % (user_id, options or {}), flush=True)


@forkq.job(name="Sleepy", queue="default", timeout=5)
def sleepy(seconds=1.0):
    time.sleep(float(seconds))
