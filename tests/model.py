#!/usr/bin/env python3
"""model.py - random command sequences against a model of the contract.

The model is a dict key -> (value bytes, expiry window) written from
/work/shared/spec/okof-cli.md, not from okof's code.  Each step runs one
okof command (put with --ttl/--if-absent, from argv or stdin; get and
get --default; del, -f, several keys, absent keys; has; incr with
negative deltas, non-integers and overflow; list with a prefix and -0;
stat; export | import into a new store, which then becomes the store;
import of made JSON Lines, some malformed) and compares the exit status,
every byte of standard output, and standard error (empty for 0 and 1,
one "okof: " line otherwise) with the model.  Every so often and at the
end every key of the pool is read back with get.

TTLs: most are hours long; a few are 1-2 s, and while such a key is within
1.5 s of its expiry the model does not know whether it is live, so no
step asserts on it until it has surely expired (then it must be absent).

  OKOF=./okof python3 tests/model.py
  MODEL_SEED=N          replay (the seed is printed first)
  MODEL_STEPS=N         steps (default 2000)
  MODEL_SKIP=a,b        leave out: default (get --default),
                        delf-nokeys (del -f with no key)
  MODEL_TRACE=1         print every step

A failure prints the seed and the steps that led to it, and stops.
Ends with "N passed, N failed"; exits 1 if any failed.
"""
import base64
import calendar
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

OKOF = os.path.abspath(os.environ.get("OKOF", "./okof"))
SEED = int(os.environ.get("MODEL_SEED") or random.SystemRandom().randrange(2**32))
STEPS = int(os.environ.get("MODEL_STEPS", "2000"))
SKIP = set(filter(None, os.environ.get("MODEL_SKIP", "").split(",")))
TRACE = os.environ.get("MODEL_TRACE") == "1"
MARGIN = 1.5  # seconds either side of an expiry where liveness is unknown
I64 = (-2**63, 2**63 - 1)

rng = random.Random(SEED)
passed = 0
trail = []  # the steps so far, for the report of a failure


class Failed(Exception):
    pass


def is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# --- the model ------------------------------------------------------------

class Model:
    """key -> (value, lo, hi): the key expires somewhere in [lo, hi]
    (Unix seconds); lo = hi = 0 for no lifetime."""

    def __init__(self):
        self.d = {}

    def state(self, k, now=None):
        """'live', 'dead' or 'unknown'."""
        if k not in self.d:
            return "dead"
        _, lo, hi = self.d[k]
        if lo == 0:
            return "live"
        now = time.time() if now is None else now
        if now < lo - MARGIN:
            return "live"
        if now > hi + MARGIN:
            del self.d[k]
            return "dead"
        return "unknown"

    def live(self, now=None):
        return sorted(k for k in list(self.d) if self.state(k, now) == "live")

    def unknown(self, now=None):
        return {k for k in list(self.d) if self.state(k, now) == "unknown"}


M = Model()
POOL = []


def make_pool():
    keys = [b"a", b"b", b"ab", b"abc", b"b\nc", b"k1", b"k2", b"k10",
            b"counter", b"c2", "é€𝄞".encode(), b"\xff\xfekey", b"sp ace",
            b'q"uo\\te', b"-5", b"-x", b"--", b"tab\tkey", b"x" * 4096,
            b"\x01\x7f", b"a/b", b"../etc", b"k\n"]
    keys += [b"r" + bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 12)))
             for _ in range(8)]
    return sorted(set(keys))


INTS = [b"0", b"1", b"-1", b"42", b" 7 ", b"7\n", b"+3", b"007", b"\t-12\n",
        b"9223372036854775807", b"-9223372036854775808",
        b"9223372036854775806\n", b"-9223372036854775807"]
NOTINTS = [b"", b"x", b"1.5", b"1 2", b"--1", b"0x10", b"12a", b" ",
           b"9223372036854775808", b"-9223372036854775809",
           b"99999999999999999999999"]


def value():
    r = rng.random()
    if r < 0.25:
        return rng.choice(INTS)
    if r < 0.32:
        return rng.choice(NOTINTS)
    if r < 0.4:
        return b""
    if r < 0.7:
        return bytes(rng.choice(b"abc xyz-\n\"\\\t\x01") for _ in range(rng.randrange(1, 30)))
    if r < 0.85:
        return rng.randbytes(rng.randrange(1, 300))
    if r < 0.93:  # the lengths where a base64 carry crosses a chunk
        n = rng.choice([65535, 65536, 65537, 65538, 131073, 196609])
        return b"\xff" + rng.randbytes(n - 1)
    n = rng.choice([65535, 65536, 65537])
    return b"a" * (n - 2) + "é€".encode()


def parse_int(b):
    """The contract's integer: decimal, signed 64-bit, surrounding white
    space accepted.  None when not one (or out of range)."""
    s = b.strip(b" \t\n\r\v\f")
    digits = s[1:] if s[:1] in (b"+", b"-") else s
    if not digits or not digits.isdigit() or len(b) > 64:
        return None
    v = int(s)
    return v if I64[0] <= v <= I64[1] else None


# --- running okof ---------------------------------------------------------

def run(store, args, stdin=b""):
    r = subprocess.run([OKOF, "-d", store] + args, input=stdin,
                       capture_output=True)
    return r.returncode, r.stdout, r.stderr


def show(args, stdin):
    a = " ".join(repr(x)[1:] if isinstance(x, bytes) else x for x in args)
    if len(a) > 200:
        a = a[:200] + "..."
    if stdin:
        a += f" < ({len(stdin)} bytes: {stdin[:20]!r}...)"
    return a


def brief(x):
    if isinstance(x, bytes) and len(x) > 80:
        return f"{len(x)} bytes {x[:40]!r}..."
    return repr(x)[:300]


def check(desc, got, want):
    global passed
    if got != want:
        why = f"got {brief(got)}, want {brief(want)}"
        if isinstance(got, bytes) and isinstance(want, bytes):
            i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                     min(len(got), len(want)))
            why += f" (first difference at byte {i})"
        raise Failed(f"{desc}: {why}")
    passed += 1


def expect_alts(store, args, stdin, alts, what=None):
    """Runs okof; its exit status and stdout must be one of alts, a list
    of (status, stdout or None for any); the stderr rule holds for each
    (empty for 0 and 1, else one "okof: " line).  Returns (stdout,
    stderr, index of the alternative seen)."""
    trail.append(show(args, stdin))
    if TRACE:
        print(f"# {len(trail)}: {trail[-1]}")
    st, o, e = run(store, args, stdin)
    d = what or show(args, stdin)
    seen = [i for i, (s, out) in enumerate(alts)
            if s == st and (out is None or out == o)]
    global passed
    passed += bool(seen)
    if not seen:
        s0, out0 = alts[0]
        check(f"{d}: exit status (stderr {e[:200]!r})", st, s0)
        for s, out in alts:
            if s == st:
                check(f"{d}: stdout", o, out)
    if st in (0, 1):
        check(f"{d}: stderr", e, b"")
    else:
        check(f"{d}: stderr is one 'okof: ' line", e.startswith(b"okof: ")
              and e.count(b"\n") == 1 and e.endswith(b"\n"), True)
    return o, e, seen[0]


def expect(store, args, stdin=b"", status=0, out=None, what=None):
    o, e, _ = expect_alts(store, args, stdin, [(status, out)], what)
    return o, e


def opts_and_operands(opts, operands):
    """Option and operand order as a user may write them: options first,
    or after the operands, with '--' where an operand starts with '-'."""
    if any(x[:1] == b"-" for x in operands) or rng.random() < 0.3:
        return opts + ["--"] + operands
    if rng.random() < 0.5:
        return opts + operands
    return operands + opts


# --- the steps ------------------------------------------------------------

# A key near its expiry (M.state "unknown") may be live or not: a step
# on it accepts either outcome and the model follows what was seen.
# Which steps run never depends on the clock, so a seed replays.

def pick():
    return rng.choice(POOL)


def step_put(store):
    k = pick()
    v = value()
    opts = []
    ttl = 0
    if rng.random() < 0.25:
        ttl, spelled = rng.choice([(3600, "1h"), (5400, "90m"), (7200, "7200"),
                                   (86400, "1d"), (600, "600s"), (1, "1"),
                                   (2, "2s"), (86400 * 7, "7d")])
        opts += ["--ttl", spelled]
    absent = rng.random() < 0.2
    if absent:
        opts.append("--if-absent")
    if rng.random() < 0.3:
        opts.append("--no-sync")
    argv = b"\0" not in v and len(v) < 100_000 and rng.random() < 0.5
    args = ["put"] + opts_and_operands(opts, [k, v] if argv else [k])
    state = M.state(k)
    alts = [(0, b"")]
    if absent and state != "dead":
        alts = [(1, b"")] + (alts if state == "unknown" else [])
    t0 = time.time()
    _, _, i = expect_alts(store, args, b"" if argv else v, alts)
    t1 = time.time()
    if alts[i][0] == 0:
        # "--ttl N": lives at least N whole seconds from the put.
        M.d[k] = (v, int(t0) + ttl, int(t1) + ttl + 1) if ttl else (v, 0, 0)


def step_get(store):
    k = pick()
    default = "default" not in SKIP and rng.random() < 0.3
    dv = rng.choice([b"", b"0", b"fallback value\n", b"-1"])
    opts = ["--default", dv] if default else []
    args = ["get"] + opts_and_operands(opts, [k])
    state = M.state(k)
    alts = []
    if state != "dead":
        alts.append((0, M.d[k][0]))
    if state != "live":
        alts.append((0, dv) if default else (1, b""))
    _, _, i = expect_alts(store, args, b"", alts)
    if state == "unknown" and i == 1:
        M.d.pop(k)


def step_has(store):
    k = pick()
    state = M.state(k)
    alts = {"live": [(0, b"")], "dead": [(1, b"")],
            "unknown": [(0, b""), (1, b"")]}[state]
    _, _, i = expect_alts(store, ["has", "--", k], b"", alts)
    if state == "unknown" and i == 1:
        M.d.pop(k)


def step_del(store):
    force = rng.random() < 0.4
    n = rng.choice([1, 1, 1, 2, 3])
    if rng.random() < 0.04 and (not force or "delf-nokeys" not in SKIP):
        n = 0
    keys = [pick() for _ in range(n)]
    opts = ["-f"] if force else []
    args = ["del"] + opts_and_operands(opts, keys)
    if n == 0 and not force:
        expect(store, ["del"], status=2, out=b"")
        return
    # 1 if any key was absent (a key named twice is absent the second
    # time), 0 if all were there; either when that hangs on an expiry.
    surely_absent, maybe_absent, seen = False, False, set()
    for k in keys:
        state = "dead" if k in seen else M.state(k)
        surely_absent |= state == "dead"
        maybe_absent |= state == "unknown"
        seen.add(k)
    if force:
        alts = [(0, b"")]
    elif surely_absent:
        alts = [(1, b"")]
    else:
        alts = [(0, b"")] + ([(1, b"")] if maybe_absent else [])
    expect_alts(store, args, b"", alts)
    for k in keys:
        M.d.pop(k, None)


def step_incr(store):
    k = pick()
    r = rng.random()
    if r < 0.5:
        delta = rng.randint(-5, 5)
    elif r < 0.8:
        delta = rng.randint(-10**12, 10**12)
    else:
        delta = rng.choice([I64[1], I64[0], 2**62])
    if rng.random() < 0.05:  # a bad DELTA: usage error, nothing changed
        bad = rng.choice([b"1.5", b"x", b"99999999999999999999", b"", b"5x"])
        expect(store, ["incr", "--", k, bad], status=2, out=b"")
        return
    # "okof incr k -5": a negative DELTA is an operand, no "--" needed.
    operands = [k, str(delta).encode()]
    if rng.random() < 0.2:
        operands, delta = [k], 1
    opts = ["--no-sync"] if rng.random() < 0.3 else []
    if k[:1] == b"-" or rng.random() < 0.2:
        args = ["incr"] + opts + ["--"] + operands
    else:
        args = ["incr"] + operands + opts
    state = M.state(k)
    # (current value, lifetime) as it is if live, and as if absent.
    starts = []
    if state != "dead":
        starts.append((parse_int(M.d[k][0]), M.d[k][1], M.d[k][2]))
    if state != "live":
        starts.append((0, 0, 0))
    alts = []
    for cur, _, _ in starts:
        if cur is None or not I64[0] <= cur + delta <= I64[1]:
            alts.append((3, b""))  # not an integer, or overflow
        else:
            alts.append((0, b"%d\n" % (cur + delta)))
    _, _, i = expect_alts(store, args, b"", alts)
    cur, lo, hi = starts[i]
    if alts[i][0] == 0:
        # incr keeps the key's lifetime (the contract clears it only for
        # a plain put).
        M.d[k] = (b"%d\n" % (cur + delta), lo, hi)
    elif state == "unknown" and i == 1:
        M.d.pop(k)


def step_list(store):
    prefix = rng.choice([b"", b"", b"a", b"k", b"r", b"-", b"\xff", b"zz"])
    nul = rng.random() < 0.5
    opts = ["-0"] if nul else []
    args = ["list"] + opts_and_operands(opts, [prefix] if prefix else [])
    unknown = {k for k in M.unknown() if k.startswith(prefix)}
    want = [k for k in M.live() if k.startswith(prefix)]
    if not unknown:
        end = b"\0" if nul else b"\n"
        expect(store, args, out=b"".join(k + end for k in want))
        return
    # A key near its expiry may be listed or not: compare the rest.
    o, _ = expect(store, ["list", "-0"] + ([prefix] if prefix else []))
    got = o.split(b"\0")[:-1] if o else []
    check("list: sorted bytewise", got, sorted(got))
    check("list: keys", [k for k in got if k not in unknown], want)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)).encode()


def step_stat(store):
    k = pick()
    if M.state(k) != "live":  # unknown: nothing to compare but the status
        _, _, i = expect_alts(store, ["stat", "--", k], b"",
                              [(1, b""), (0, None)])
        if i == 0:
            M.d.pop(k, None)
        return
    t = time.time()
    o, _ = expect(store, ["stat", "--", k])
    v, lo, hi = M.d[k]
    head = b"key: " + k + b"\nsize: %d\n" % len(v)
    check(f"stat {k[:40]!r}: key and size", o[:len(head)], head)
    rest = dict(l.split(b": ", 1) for l in o[len(head):].split(b"\n")[:-1])
    check(f"stat {k[:40]!r}: fields", sorted(rest),
          [b"compressed", b"disk", b"encrypted", b"expires", b"modified"])
    check(f"stat {k[:40]!r}: disk", rest[b"disk"].isdigit(), True)
    check(f"stat {k[:40]!r}: compressed", rest[b"compressed"] in (b"yes", b"no"), True)
    check(f"stat {k[:40]!r}: encrypted", rest[b"encrypted"], b"no")
    m = calendar.timegm(time.strptime(rest[b"modified"].decode(), "%Y-%m-%dT%H:%M:%SZ"))
    check(f"stat {k[:40]!r}: modified not in the future", m <= t + 1, True)
    if lo == 0:
        check(f"stat {k[:40]!r}: expires", rest[b"expires"], b"never")
    else:
        check(f"stat {k[:40]!r}: expires in [{iso(lo)}, {iso(hi)}]",
              rest[b"expires"] in [iso(x) for x in range(lo, hi + 1)], True)


def decode_export(o):
    recs = []
    for n, raw in enumerate(o.split(b"\n")[:-1], 1):
        try:
            j = json.loads(raw.decode("utf-8"))
            k = j["key"].encode() if "key" in j else base64.b64decode(j["key_base64"], validate=True)
            v = j["value"].encode() if "value" in j else base64.b64decode(j["value_base64"], validate=True)
            check(f"export line {n}: fields", sorted(j) == sorted(
                ["key" if is_utf8(k) else "key_base64",
                 "value" if is_utf8(v) else "value_base64"] +
                (["expires"] if "expires" in j else [])), True)
        except (ValueError, KeyError, UnicodeError) as e:
            raise Failed(f"export line {n} is not a record: {e}: {raw[:100]!r}")
        recs.append((k, v, j.get("expires", 0)))
    check("export: ends with a newline", o == b"" or o.endswith(b"\n"), True)
    return recs


def compare_export(recs, what):
    unknown = M.unknown()
    live = set(M.live())
    got = {k: (v, e) for k, v, e in recs}
    check(f"{what}: no key twice", len(got), len(recs))
    check(f"{what}: keys", sorted(k for k in got if k not in unknown), sorted(live))
    for k in live:
        v, lo, hi = M.d[k]
        check(f"{what}: value of {k[:40]!r}", got[k][0], v)
        check(f"{what}: expires of {k[:40]!r} in [{lo}, {hi}]", lo <= got[k][1] <= hi, True)
    for k in unknown:
        if k in got:
            check(f"{what}: value of {k[:40]!r}", got[k][0], M.d[k][0])


def step_export_import(store, tmp, n):
    """export | import into a new store, which the next steps use."""
    o, _ = expect(store, ["export"])
    recs = decode_export(o)
    compare_export(recs, "export")
    new = os.path.join(tmp, f"s{n}")
    expect(new, ["import"], stdin=o, out=b"")
    # What an unknown key became is what the export said.
    got = {k: (v, e) for k, v, e in recs}
    for k in M.unknown():
        if k not in got:
            del M.d[k]
    return new


def jline(k, v, exp=0, mangle=None):
    kf = f'"key":{json.dumps(k.decode())}' if is_utf8(k) else \
        f'"key_base64":"{base64.b64encode(k).decode()}"'
    vf = f'"value":{json.dumps(v.decode(), ensure_ascii=rng.random() < 0.5)}' \
        if is_utf8(v) else f'"value_base64":"{base64.b64encode(v).decode()}"'
    e = f',"expires":{exp}' if exp else ""
    s = "{" + kf + "," + vf + e + "}"
    if mangle == "json":
        s = s[:-1]
    elif mangle == "field":
        s = s[:-1] + ',"extra":1}'
    elif mangle == "nokey":
        s = "{" + vf + "}"
    elif mangle == "b64":
        s = "{" + kf + ',"value_base64":"!!"}'
    return s + "\n"


def step_import(store):
    keys = [pick() for _ in range(rng.randrange(1, 6))]
    now = int(time.time())
    recs = [(k, value(), rng.choice([0, 0, now + 86400])) for k in keys]
    lines = [jline(*r) for r in recs]
    bad = None
    if rng.random() < 0.25:
        bad = rng.randrange(len(lines))
        lines[bad] = jline(*recs[bad], mangle=rng.choice(["json", "field", "nokey", "b64"]))
    text = "".join(lines).encode()
    if bad is not None:
        _, e = expect(store, ["import"], stdin=text, status=2, out=b"")
        check("import: names the bad line", b"line %d" % (bad + 1) in e, True)
        return
    expect(store, ["import"], stdin=text, out=b"")
    for k, v, exp in recs:
        M.d[k] = (v, exp, exp)


def read_back(store, what):
    """Every key of the pool, with get."""
    for k in POOL:
        s = M.state(k)
        if s == "live":
            expect(store, ["get", "--", k], out=M.d[k][0], what=f"{what}: get {k[:40]!r}")
        elif s == "dead":
            expect(store, ["get", "--", k], status=1, out=b"", what=f"{what}: get {k[:40]!r}")


STEPS_TABLE = [(step_put, 30), (step_get, 20), (step_has, 6), (step_del, 10),
               (step_incr, 14), (step_list, 5), (step_stat, 5),
               (step_import, 3)]


def main():
    global POOL
    print(f"# model.py: MODEL_SEED={SEED} MODEL_STEPS={STEPS}"
          f" MODEL_SKIP={','.join(sorted(SKIP))}")
    POOL = make_pool()
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="okof-model.", dir=os.environ.get("TMPDIR", shm))
    store = os.path.join(tmp, "s0")
    fns, weights = zip(*STEPS_TABLE)
    t0 = time.time()
    failed = 0
    i = 0
    try:
        for i in range(1, STEPS + 1):
            if rng.random() < 0.01:
                store = step_export_import(store, tmp, i)
            elif i % 500 == 0:
                read_back(store, f"step {i}")
            else:
                rng.choices(fns, weights)[0](store)
        read_back(store, "at the end")
        compare_export(decode_export(expect(store, ["export"])[0]), "final export")
    except Failed as e:
        failed = 1
        print(f"FAIL: step {i} (MODEL_SEED={SEED} MODEL_STEPS={i} replays it): {e}")
        print("# the steps, last 40 of", len(trail))
        for n, s in enumerate(trail[-40:], len(trail) - len(trail[-40:]) + 1):
            print(f"#   {n}: {s}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"# {i} steps, {len(trail)} okof runs, {time.time() - t0:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
