"""A `failed` entry (contract §9.1) in Resque's key order."""
from forkq.wire.payload import clean_text, display_text, encode


def failure_json(failed_at, raw_payload, exception, error, backtrace, worker, queue,
                 payload_is_json=True):
    """A `failed` entry in Resque's key order. A payload that was valid JSON is spliced in as
    popped (extra keys, float spelling and all); anything else is kept as a JSON string."""
    if payload_is_json:
        payload = clean_text(raw_payload)
    else:
        payload = encode(clean_text(display_text(raw_payload)))
    return ('{"failed_at":%s,"payload":%s,"exception":%s,"error":%s,"backtrace":%s,'
            '"worker":%s,"queue":%s}' % (
                encode(clean_text(failed_at)), payload, encode(clean_text(exception)),
                encode(clean_text(error)), encode([clean_text(line) for line in backtrace]),
                encode(clean_text(worker)), encode(clean_text(queue))))
