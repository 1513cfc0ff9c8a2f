"""All of forkq's Redis I/O: the one client recipe, the worker's reads and writes (Lua scripts
in lua/), the operator's reads, and the failed list. Importing this package imports nothing;
its modules import redis-py, so nothing the fork server inherits may import them."""
