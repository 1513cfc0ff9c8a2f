"""The worker:<id> claim (contract §4.3): writing it, and reading any worker's back."""
import re

from forkq.wire.payload import _strict_loads, encode


def claim_json(queue, run_at, raw_payload, worker=None, seq=None):
    """The worker:<id> value (§4.3): Ruby's keys in Ruby's order, then node-resque's "worker"
    (host:pid) and forkq's "seq" (the worker's claim number, which makes every claim of a
    worker unique) when given. The store's reserve script writes the same shape."""
    text = '{"queue":%s,"run_at":%s,"payload":%s' % (encode(queue), encode(run_at), raw_payload)
    if worker is not None:
        text += ',"worker":' + encode(worker)
    if seq is not None:
        text += ',"seq":%d' % seq
    return text + "}"


# What follows the payload in a claim: nothing (Ruby), "worker" (node-resque), "worker" and
# "seq" (forkq). split_claim cuts it off to keep the payload's bytes as they were popped.
_CLAIM_TAIL = re.compile(r'(?:,"worker":"(?:[^"\\]|\\.)*")?(?:,"seq":[0-9]+)?\}\s*$')


def split_claim(claim):
    """(queue, raw payload, payload is a JSON object, class) from any worker:<id> value:
    forkq's, Ruby's or node-resque's. The payload's bytes are kept when they can be cut out
    as they are; a payload the reserve script had to quote (not a JSON object) comes back as
    its original bytes."""
    text = claim.decode("utf-8", "replace") if isinstance(claim, bytes) else claim
    try:
        whole = _strict_loads(text)
    except (ValueError, RecursionError):
        return "", text, False, None
    if not isinstance(whole, dict):
        return "", text, False, None
    queue = whole.get("queue") if isinstance(whole.get("queue"), str) else ""
    payload = whole.get("payload")
    if isinstance(payload, str):
        return queue, payload.encode("latin-1", "replace"), False, None
    if not isinstance(payload, dict):
        return queue, _encode_or(payload, text) if payload is not None else text, False, None
    raw = None
    marker = text.find(',"payload":')
    if marker > 0:
        candidate = _CLAIM_TAIL.sub("", text[marker + len(',"payload":'):])
        try:
            if _strict_loads(candidate) == payload:
                raw = candidate
        except (ValueError, RecursionError):
            pass
    job_class = payload.get("class")
    job_class = job_class if isinstance(job_class, str) else None
    if raw is None:
        raw = _encode_or(payload, None)
        if raw is None:  # 1e999 read as inf: keep the claim's text rather than lose the job
            return queue, text, False, job_class
    return queue, raw, True, job_class


def _encode_or(value, fallback):
    try:
        return encode(value)
    except ValueError:
        return fallback
