"""forkq.proc.framing: one reader for every stream between forkq's processes."""
import json
import os
import struct

from forkq.proc import framing


def test_messages_split_across_reads_come_out_whole():
    reader = framing.Reader()
    data = framing.frame({"ok": True}) + framing.frame({"ok": False, "error": "x"})
    out = []
    for i in range(len(data)):
        out.extend(reader.feed(data[i:i + 1]))
    assert out == [{"ok": True}, {"ok": False, "error": "x"}]


def test_a_garbled_frame_is_skipped_and_the_next_one_read():
    reader = framing.Reader()
    bad = struct.pack(">I", 5) + b"\xff{no}"
    out = reader.feed(framing.frame({"a": 1}) + bad + framing.frame({"b": 2}))
    assert out == [{"a": 1}, {"b": 2}]
    assert reader.garbled == 1 and not reader.broken


def test_a_length_no_message_has_ends_the_stream_without_raising():
    reader = framing.Reader()
    assert reader.feed(b"\xff\xff\xff\xff" + framing.frame({"a": 1})) == []
    assert reader.broken and reader.feed(framing.frame({"a": 1})) == []


def test_job_frames_carry_odd_queue_names_and_raw_bytes():
    queue = "we\x00ird \u2603 \udcff"
    raw = b'{"class":"X","args":["\xc3\xa9"]}'
    [body] = framing.Reader(bytes).feed(framing.job_frame(queue, raw, 12.5, "Cl\u00e4ss"))
    assert framing.job_fields(body) == (queue, raw, 12.5)
    assert framing.job_header(body) == (queue, "Cl\u00e4ss", 12.5)


def test_receive_returns_each_message_of_one_read_in_turn():
    r, w = os.pipe()
    try:
        os.write(w, framing.frame({"n": 1}) + framing.frame({"n": 2}) + b"\x00\x00\x00\x03{}}")
        os.close(w)
        w = None
        reader = framing.Reader()
        assert reader.receive(r) == {"n": 1}
        assert reader.receive(r) == {"n": 2}
        assert reader.receive(r) is None  # the garbled last frame is skipped; then EOF
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


def test_send_reports_a_closed_pipe_instead_of_raising():
    r, w = os.pipe()
    os.close(r)
    try:
        assert framing.send(w, {"x": 1}) is False
    finally:
        os.close(w)


def test_json_frames_are_what_the_reader_reads():
    assert framing.Reader().feed(framing.frame({"k": [1, "é"]})) == [json.loads('{"k":[1,"é"]}')]
