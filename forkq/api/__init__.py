"""The Python API an application uses: the job registry, hooks, enqueue and dequeue."""
