"""Queue selection (contract §4.2): Ruby's File.fnmatch (no flags) for dynamic queue lists,
as the reserve script's Lua patterns and as the Python twin the admin views use.

Both are rendered from one reading of the pattern, so they cannot drift apart. Names are
matched by character, as Ruby does: `?` is one UTF-8 character, never one byte.
"""
import re

_GLOB_CHARS = set("*?{}[]")


def is_dynamic(queues):
    return any(q.startswith("!") or _GLOB_CHARS & set(q) for q in queues)


def _glob_tokens(pattern):
    """Ruby File.fnmatch (no flags) read into tokens: ("*",), ("?",), ("lit", char) and
    ("class", negated, body) where body is [(low, high)] character ranges. `{}` is literal."""
    tokens, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c in "*?":
            tokens.append((c,))
        elif c == "\\" and i + 1 < n:
            i += 1
            tokens.append(("lit", pattern[i]))
        elif c == "[":
            neg = i + 1 < n and pattern[i + 1] in "!^"
            j = pattern.find("]", i + 2 if neg else i + 1)
            if j < 0:
                tokens.append(("lit", "["))
            else:
                body, k = pattern[i + (2 if neg else 1):j], 0
                ranges = []
                while k < len(body):
                    if k + 2 < len(body) and body[k + 1] == "-":
                        ranges.append((body[k], body[k + 2]))
                        k += 3
                    else:
                        ranges.append((body[k], body[k]))
                        k += 1
                tokens.append(("class", neg, ranges))
                i = j
        else:
            tokens.append(("lit", c))
        i += 1
    return tokens


def unsupported(pattern):
    """Why forkq cannot match `pattern` as Ruby does, or None. A bracket class with non-ASCII
    members would be matched byte by byte in Redis (Lua patterns have no alternation), so the
    worker and the admin views would disagree: refused where the queue list is read."""
    for token in _glob_tokens(pattern.lstrip("!")):
        if token[0] == "class" and any(ord(c) > 127 for pair in token[2] for c in pair):
            return ("%r: a [...] class with non-ASCII characters cannot be matched; use ? "
                    "(one character) or * instead" % pattern)
    return None


def _dot_literal(tokens):
    # Ruby's fnmatch: a leading dot of a name is matched only by a literal dot.
    return bool(tokens) and tokens[0] == ("lit", ".")


# One UTF-8 character, as Ruby's ? counts them (names are bytes in the reserve script).
_LUA_CHAR = b"[%z\x01-\x7f\xc2-\xf4][\x80-\xbf]*"


def glob_to_lua(pattern):
    """Ruby File.fnmatch (no flags) as an anchored Lua pattern, as bytes (it holds byte
    classes). A negated class of ASCII members matches any one non-ASCII character; a class
    with non-ASCII members is refused beforehand (unsupported)."""
    out = [b"^"]
    for token in _glob_tokens(pattern):
        kind = token[0]
        if kind == "*":
            out.append(b".*")
        elif kind == "?":
            out.append(_LUA_CHAR)
        elif kind == "lit":
            out.append(_lua_escape(token[1]))
        else:
            body = b"".join(_lua_range(lo, hi) for lo, hi in token[2])
            if not body:  # [] matches nothing, [!] any one character
                out.append(_LUA_CHAR if token[1] else b"[^%z\x01-\xff]")
            elif token[1]:
                out.append(b"[^" + body + b"\x80-\xbf][\x80-\xbf]*")
            else:
                out.append(b"[" + body + b"]")
    out.append(b"$")
    return b"".join(out)


def _lua_escape(c):
    data = c.encode("utf-8", "surrogateescape")
    return b"%" + data if c in "^$()%.[]*+-?" else data


def _lua_range(lo, hi):
    if lo == hi:
        return _lua_escape(lo)
    if "%" in (lo, hi) or lo == "^":  # a Lua range cannot hold an escape: list its members
        return b"".join(_lua_escape(chr(c)) for c in range(ord(lo), min(ord(hi), 127) + 1))
    return (lo + "-" + hi).encode("utf-8", "surrogateescape")


def glob_regex(pattern):
    """The same pattern as a Python regex over names as text, for admin views and tests."""
    out = []
    for token in _glob_tokens(pattern):
        if token[0] == "*":
            out.append(".*")
        elif token[0] == "?":
            out.append(".")
        elif token[0] == "lit":
            out.append(re.escape(token[1]))
        else:
            body = "".join(re.escape(lo) if lo == hi else re.escape(lo) + "-" + re.escape(hi)
                           for lo, hi in token[2] if lo <= hi)  # z-a matches nothing
            out.append("[" + ("^" if token[1] else "") + body + "]" if body else
                       "." if token[1] else "(?!)")
    return re.compile("".join(out) + r"\Z", re.S)


def glob_match(pattern, name):
    """Python twin of the reserve script's matcher."""
    if name.startswith(".") and not _dot_literal(_glob_tokens(pattern)):
        return False
    return glob_regex(pattern).match(name) is not None


def glob_dot_flag(pattern):
    """The reserve script's leading-dot flag for a pattern: "1" if it starts with a literal dot."""
    return "1" if _dot_literal(_glob_tokens(pattern)) else "0"


def expand_queues(configured, known):
    """Resque's queue expansion: static lists as given; dynamic ones per entry, sorted."""
    if not is_dynamic(configured):
        return list(configured)
    includes = [q for q in configured if not q.startswith("!")]
    excludes = [q[1:] for q in configured if q.startswith("!")]
    seen, out = set(), []
    for pattern in includes:
        hits = sorted(n for n in known if glob_match(pattern, n)
                      and not any(glob_match(x, n) for x in excludes))
        for name in hits:
            if name not in seen:
                seen.add(name)
                out.append(name)
    return out
