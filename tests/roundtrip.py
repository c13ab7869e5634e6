#!/usr/bin/env python3
"""roundtrip.py - export | import compared with the original bytes.

Makes thousands of random records (lengths dense around the 64 KiB chunk
boundaries and the base64 groups of 3; binary, NUL-heavy, escapes, UTF-8
with characters split over chunks, almost-UTF-8; keys that are not UTF-8
or hold newlines; some with a lifetime), stores them in store A (one
`okof import` of JSON Lines written here, plus some `okof put`), then:

  1. `okof export` of A, decoded here (json + base64), equals the records;
  2. `okof import` of that into a new store B; `okof export` of B,
     decoded here, equals the records;
  3. `okof get` of a random sample of B's keys writes the original bytes.

The truth is always the records made here, never another export.

  OKOF=./okof python3 tests/roundtrip.py
  ROUNDTRIP_SEED=N      replay a run (the seed is printed first)
  ROUNDTRIP_COUNT=N     records (default 2000)
  ROUNDTRIP_GETS=N      keys read back with get (default 300)

Ends with "N passed, N failed"; exits 1 if any failed.
"""
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

CHUNK = 65536
MAX_LEN = 300_000

OKOF = os.path.abspath(os.environ.get("OKOF", "./okof"))
SEED = int(os.environ.get("ROUNDTRIP_SEED") or random.SystemRandom().randrange(2**32))
COUNT = int(os.environ.get("ROUNDTRIP_COUNT", "2000"))
GETS = int(os.environ.get("ROUNDTRIP_GETS", "300"))

rng = random.Random(SEED)
passed = 0
failed = 0


def fail(what):
    global failed
    failed += 1
    print(f"FAIL: {what} (replay: ROUNDTRIP_SEED={SEED})")


def ok():
    global passed
    passed += 1


def is_utf8(b):
    # Python's strict decoder has okof's rules: no overlongs, no
    # surrogates, nothing above U+10FFFF.
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def length():
    r = rng.random()
    if r < 0.06:  # around a chunk boundary
        return rng.randrange(1, MAX_LEN // CHUNK + 1) * CHUNK + rng.randint(-3, 3)
    if r < 0.09:  # around the base64 groups of a chunk boundary
        return rng.randrange(1, 5) * CHUNK + rng.randint(-12, 12)
    if r < 0.105:
        return rng.randrange(0, MAX_LEN + 1)
    if r < 0.75:  # short: every base64 remainder, empty values
        return rng.randrange(0, 40)
    return rng.randrange(0, 5000)


MB = ["é", "€", "\U0001d11e", "ж", "中", "\u00a0", "\ufeff", "\U0010ffff"]
# Not UTF-8: overlongs, surrogates, above U+10FFFF, lone or cut bytes.
BAD = [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xed\xa0\x80",
       b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5", b"\xff", b"\x80", b"\xe2\x82"]
ESC = b'"\\\n\t\r\x00\x01\x1f\x7f/'


def text(n):
    """Valid UTF-8 of n bytes or a few more, with multi-byte characters
    that start 1 to 3 bytes before a chunk boundary."""
    out = bytearray()
    pat = bytes(rng.choice(b"abcdefxyz 0123456789") for _ in range(64))
    while len(out) < n:
        gap = (len(out) // CHUNK + 1) * CHUNK - len(out)
        r = rng.random()
        if gap <= 3 and r < 0.9:
            out += rng.choice(MB).encode()
        elif r < 0.5:
            run = min(n - len(out), max(1, gap - rng.randint(1, 3)),
                      rng.randrange(1, 30000))
            out += (pat * (run // 64 + 1))[:run]
        elif r < 0.8:
            out += rng.choice(MB).encode()
        else:
            out.append(rng.choice(ESC))
    return bytes(out)


def value(n):
    kind = rng.randrange(6)
    if kind == 0:  # binary
        v = rng.randbytes(n)
    elif kind == 1:  # NUL-heavy
        v = bytes(0 if rng.random() < 0.9 else rng.randrange(256)
                  for _ in range(min(n, 4096)))
        v = (v * (n // 4096 + 1))[:n]
    elif kind in (2, 3):  # UTF-8 text
        v = text(n)
    elif kind == 4:  # UTF-8 spoilt at one place, often right after a chunk
        v = bytearray(text(n))
        if v:
            i = rng.choice([len(v) - 1, min(len(v) - 1, CHUNK),
                            rng.randrange(len(v))])
            v[i:i + 1] = rng.choice(BAD)
        v = bytes(v)
    else:  # escapes only
        v = bytes(rng.choice(ESC) for _ in range(min(n, 1000)))
        v = (v * (n // 1000 + 1))[:n]
    return v


def key(i):
    r = rng.random()
    tag = f"{i:05d}".encode()
    if r < 0.4:
        return b"k" + tag
    if r < 0.55:
        return tag + b"\n" + rng.choice(MB).encode() + b"\nend"
    if r < 0.7:  # not UTF-8
        return tag + bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 8))) + b"\xff"
    if r < 0.8:
        return tag + "é€𝄞 \"\\\t".encode()
    if r < 0.9:  # long
        return tag + bytes(rng.randrange(1, 128) for _ in range(rng.randrange(100, 4091)))
    return b"-" + tag  # reads like an option


def jstr(b):
    return json.dumps(b.decode("utf-8"), ensure_ascii=rng.random() < 0.5)


def line(k, v, exp):
    kf = f'"key":{jstr(k)}' if is_utf8(k) else \
        f'"key_base64":"{base64.b64encode(k).decode()}"'
    vf = f'"value":{jstr(v)}' if is_utf8(v) else \
        f'"value_base64":"{base64.b64encode(v).decode()}"'
    e = f',"expires":{exp}' if exp else ""
    return "{" + kf + "," + vf + e + "}\n"


def okof(store, *args, stdin=None):
    return subprocess.run([OKOF, "-d", store, *args], input=stdin,
                          capture_output=True)


def decode(path):
    """The records of an export: key -> (value, expires, field names)."""
    recs = {}
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                j = json.loads(raw.decode("utf-8"))
                k = j["key"].encode() if "key" in j else \
                    base64.b64decode(j["key_base64"], validate=True)
                v = j["value"].encode() if "value" in j else \
                    base64.b64decode(j["value_base64"], validate=True)
            except (ValueError, KeyError, UnicodeError) as e:
                fail(f"{path}: line {n} is not a record: {e}: {raw[:100]!r}")
                continue
            if k in recs:
                fail(f"{path}: key {k[:60]!r} twice")
            recs[k] = (v, j.get("expires", 0), "value" in j, "key" in j)
    return recs


def compare(name, got, want):
    for k in want:
        if k not in got:
            fail(f"{name}: key {k[:60]!r} (length {len(want[k][0])}) missing")
            continue
        v, exp, vtext, ktext = got[k]
        wv, wexp = want[k]
        if v != wv:
            i = next((i for i in range(min(len(v), len(wv))) if v[i] != wv[i]), min(len(v), len(wv)))
            fail(f"{name}: key {k[:60]!r}: value of {len(wv)} bytes came back "
                 f"as {len(v)} bytes, first difference at byte {i}")
        elif vtext != is_utf8(wv) or ktext != is_utf8(k):
            fail(f"{name}: key {k[:60]!r}: text/base64 chosen wrongly")
        elif (exp == 0) != (wexp == 0) or (wexp and abs(exp - wexp) > 2):
            fail(f"{name}: key {k[:60]!r}: expires {exp}, want {wexp}")
        else:
            ok()
    for k in got:
        if k not in want:
            fail(f"{name}: key {k[:60]!r} that was never stored")


def main():
    print(f"# roundtrip.py: ROUNDTRIP_SEED={SEED} COUNT={COUNT}")
    t0 = time.time()
    # The bytes are what is tested here, not durability: a tmpfs where
    # there is one spares the disk thousands of fsyncs.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="okof-rt.", dir=os.environ.get("TMPDIR", shm))
    try:
        a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        now = int(time.time())
        want = {}  # key -> (value, expires)
        with open(os.path.join(tmp, "in.jsonl"), "w") as f:
            for i in range(COUNT):
                k, v = key(i), value(length())
                exp = now + rng.randrange(3600, 30 * 86400) if rng.random() < 0.15 else 0
                want[k] = (v, exp)
                f.write(line(k, v, exp))
        with open(os.path.join(tmp, "in.jsonl"), "rb") as f:
            r = subprocess.run([OKOF, "-d", a, "import"], stdin=f, capture_output=True)
        if r.returncode != 0:
            fail(f"import of the made records: status {r.returncode}: {r.stderr[:300]!r}")
        # Some records written by put, from argv and from standard input,
        # some with --ttl, over keys the import wrote.
        for k in rng.sample(sorted(want), min(150, len(want))):
            v, ttl = value(length()), rng.choice([0, 0, 7200, 86400])
            opts = ["--ttl", str(ttl)] if ttl else []
            if b"\0" not in v and len(v) < 2000 and rng.random() < 0.5 and v[:1] != b"-":
                r = okof(a, "put", *opts, "--", k, v)
            else:
                r = okof(a, "put", *opts, "--", k, stdin=v)
            if r.returncode != 0:
                fail(f"put {k[:60]!r}: status {r.returncode}: {r.stderr[:300]!r}")
            want[k] = (v, int(time.time()) + ttl if ttl else 0)

        ea, eb = os.path.join(tmp, "a.jsonl"), os.path.join(tmp, "b.jsonl")
        with open(ea, "wb") as f:
            r = subprocess.run([OKOF, "-d", a, "export"], stdout=f, stderr=subprocess.PIPE)
        if r.returncode != 0:
            fail(f"export of A: status {r.returncode}: {r.stderr[:300]!r}")
        compare("export of A", decode(ea), want)

        with open(ea, "rb") as f:
            r = subprocess.run([OKOF, "-d", b, "import"], stdin=f, capture_output=True)
        if r.returncode != 0:
            fail(f"import into B: status {r.returncode}: {r.stderr[:300]!r}")
        with open(eb, "wb") as f:
            r = subprocess.run([OKOF, "-d", b, "export"], stdout=f, stderr=subprocess.PIPE)
        if r.returncode != 0:
            fail(f"export of B: status {r.returncode}: {r.stderr[:300]!r}")
        compare("export of B", decode(eb), want)

        for k in rng.sample(sorted(want), min(GETS, len(want))):
            r = okof(b, "get", "--", k)
            v = want[k][0]
            if r.returncode != 0 or r.stdout != v or r.stderr:
                fail(f"get {k[:60]!r} from B: status {r.returncode}, {len(r.stdout)} bytes, "
                     f"want 0 and {len(v)} bytes; stderr {r.stderr[:200]!r}")
            else:
                ok()
        total = sum(len(v) for v, _ in want.values())
        print(f"# {len(want)} records, {total} value bytes, {time.time() - t0:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
