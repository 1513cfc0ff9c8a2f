"""The worker's parent process: one loop, the record of each job, recovery from Redis faults,
and pruning dead workers."""
