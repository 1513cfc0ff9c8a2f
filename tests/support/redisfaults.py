"""The Redis fault tests' fixtures: a redis-server of each test's own with AOF on, so data
survives the restart as it would in production, and a client on it."""
import pytest

from harness import RedisServer


@pytest.fixture
def server():
    srv = RedisServer(appendonly=True)
    yield srv
    srv.cleanup()


@pytest.fixture
def client(server):
    c = server.client()
    yield c
    c.close()
