"""Resque's wire format as pure functions: key names, ids, JSON, claims, failure entries, time
shapes and queue globs. Everything here follows RESQUE_CONTRACT.md; nothing here touches Redis
or the clock except through arguments, so every shape can be checked against golden vectors.
Nothing here imports redis-py: the fork server and job children carry this package."""
from forkq.wire.claim import claim_json, split_claim  # noqa: F401
from forkq.wire.failure import failure_json  # noqa: F401
from forkq.wire.globs import (  # noqa: F401
                              expand_queues,
                              glob_dot_flag,
                              glob_match,
                              glob_regex,
                              glob_to_lua,
                              is_dynamic,
)
from forkq.wire.keys import RESQUE_VERSION, Keys, parse_worker_id, worker_id  # noqa: F401
from forkq.wire.payload import (  # noqa: F401
                              clean_text,
                              decode_payload,
                              display_text,
                              encode,
                              enqueued_at,
                              job_payload,
)
from forkq.wire.times import (  # noqa: F401
                              failed_at,
                              heartbeat_at,
                              parse_started,
                              parse_time,
                              run_at,
                              started_at,
)
