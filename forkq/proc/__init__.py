"""Processes: signals, timeouts, the fork server and the guard, the in-child code, the parent's
handle on a child, process titles. Nothing here imports redis-py or psutil at import time:
the fork server and job children are forked from these modules."""
