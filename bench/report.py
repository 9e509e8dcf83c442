#!/usr/bin/python3
"""bench/report.py RAW RESULT_JSON - the benchmark's table and JSON file.

RAW holds "KEY VALUE" lines written by bench.sh, VALUE being JSON (an
object from the load generator, a number or a string).  Prints the
table; writes every figure, the machine, the versions and the commit to
RESULT_JSON.
"""
import json
import re
import statistics
import sys

DAEMONS = ("ref", "mtasts", "ceiling")
WARM = ("c1", "c16", "c100", "connect")


def load_raw(path):
    raw, warnings = {}, []
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(" ")
            if not key or not value.strip():
                continue        # e.g. a figure of a daemon that died
            try:
                value = json.loads(value)
            except ValueError:
                pass            # a bare word, kept as text
            if key == "warning":
                warnings.append(value)
            else:
                raw[key] = value
    return raw, warnings


def merge_warnings(warnings):
    """One line per run label for the load generator's CPU warnings."""
    busy, out = {}, []
    for w in warnings:
        m = re.match(r"load generator at ([\d.]+)% of its CPU in (\S+)$", str(w))
        if not m:
            out.append(w)
            continue
        pct, label = float(m.group(1)), m.group(2)
        if label not in busy:
            busy[label] = [pct, 0]
        busy[label][0] = max(busy[label][0], pct)
        busy[label][1] += 1
    for label, (pct, n) in busy.items():
        out.append("load generator at up to %.1f%% of its CPU in %s (%d run%s): "
                   "the load generator is the bottleneck there"
                   % (pct, label, n, "s" if n > 1 else ""))
    return out


def get(obj, *path):
    """obj[path[0]][path[1]]..., None when any step is missing."""
    for p in path:
        if not isinstance(obj, dict) or p not in obj:
            return None
        obj = obj[p]
    return obj


def lat(run, key):
    """A latency figure of a run, None when it had no good reply."""
    if not isinstance(run, dict) or not run.get("ok"):
        return None
    return get(run, "lat_us", key)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def collect(raw):
    """Structured figures per phase and daemon."""
    ph = {}
    n = raw.get("meta.domains")
    for d in DAEMONS:
        r = {}
        if get(raw, "startup." + d, "ok") == 1:
            r["startup_ms"] = scale(get(raw, "startup." + d, "startup_us"), 1e-3)
        elif get(raw, "startup." + d) is not None:
            r["startup_failed"] = True
        r["idle_rss_kib"] = raw.get("idle_rss_kb." + d)
        fill = raw.get("fill." + d)
        if isinstance(fill, dict):
            r["fill"] = {
                "domains": n,
                "wall_s": fill.get("elapsed_s"),
                "p50_ms": scale(lat(fill, "p50"), 1e-3),
                "p99_ms": scale(lat(fill, "p99"), 1e-3),
                "daemon_cpu_s": fill.get("daemon_cpu_s"),
                "cpu_per_domain_us": per(fill.get("daemon_cpu_s"), n, 1e6),
                "ok": fill.get("ok"),
                "failed": fill.get("failed"),
                "first_error": fill.get("first_error"),
            }
        fh = raw.get("fillhits." + d)
        if isinstance(fh, dict):
            r["fill_hits"] = {"hits": fh.get("ok"), "failed": fh.get("failed"),
                              "p50_us": lat(fh, "p50"), "p99_us": lat(fh, "p99"),
                              "p999_us": lat(fh, "p999"), "max_us": lat(fh, "max")}
        r["fill_rss_kib"] = raw.get("fill_rss_kb." + d)
        r["fill_hwm_kib"] = raw.get("fill_hwm_kb." + d)
        r["warm_hwm_kib"] = raw.get("warm_hwm_kb." + d)
        r["peak_rss_kib"] = raw.get("end_hwm_kb." + d)
        r["end_rss_kib"] = raw.get("end_rss_kb." + d)
        r["wakeups_per_s"] = raw.get("wakeups_per_s." + d)
        for w in WARM:
            runs = [v for k, v in sorted(raw.items())
                    if k.startswith("warm.%s.%s." % (w, d)) and isinstance(v, dict)]
            if not runs:
                continue
            r["warm_" + w] = {
                "runs": len(runs),
                "rps": median(x.get("rps") for x in runs),
                "p50_us": median(lat(x, "p50") for x in runs),
                "p90_us": median(lat(x, "p90") for x in runs),
                "p99_us": median(lat(x, "p99") for x in runs),
                "p999_us": median(lat(x, "p999") for x in runs),
                "max_us": median(lat(x, "max") for x in runs),
                "cpu_per_lookup_us": median(x.get("daemon_cpu_per_req_us") for x in runs),
                "failed": sum(x.get("failed") or 0 for x in runs),
                "load_cpu_pct_max": max(x.get("load_cpu_pct") or 0 for x in runs),
            }
        hang, bg = raw.get("hang." + d), raw.get("hangbg." + d)
        if isinstance(hang, dict):
            r["hang"] = {
                "hits": hang.get("ok"),
                "p50_us": lat(hang, "p50"),
                "p99_us": lat(hang, "p99"),
                "max_us": lat(hang, "max"),
                "failed": hang.get("failed"),
                "hung_lookups_answered": get(bg, "ok"),
                "hung_lookups_failed": get(bg, "failed"),
                "hung_lookup_p50_s": scale(lat(bg, "p50"), 1e-6),
            }
        sc = {}
        for key in raw:
            parts = key.split(".")
            if parts[0] == "scale" and parts[-1] == d and parts[2] == "fill":
                sn = int(parts[1])
                sc[str(sn)] = scale_figures(raw, sn, d)
        if sc:
            r["scale"] = sc
        ph[d] = {k: v for k, v in r.items() if v is not None}
    return ph


FLOOR_KEYS = ("ecdhe_p256_us", "ecdhe_x25519_us", "ecdhe_p384_us",
              "ecdsa_p256_verify_us", "rsa2048_verify_us")
CURVE_KEY = {"prime256v1": "ecdhe_p256_us", "X25519": "ecdhe_x25519_us",
             "secp384r1": "ecdhe_p384_us"}


def handshake_mix(text):
    """"1000 TLSv1.2 CIPHER CURVE; 3 ..." -> [(count, protocol, cipher, curve)]"""
    mix = []
    for part in str(text or "").split(";"):
        f = part.split()
        if len(f) == 4 and f[0].isdigit():
            mix.append((int(f[0]), f[1], f[2], f[3]))
    return mix


def floor_figures(raw):
    """The public-key floor of one cold lookup (bench/floor.c): the lower
    of the runs before and after the phases, per operation; the floor of
    the handshakes mtasts negotiated in its fill; the floor of the cheapest
    forward-secret handshake BearSSL can make."""
    runs = [raw.get(k) for k in ("floor.before", "floor.after")]
    runs = [r for r in runs if isinstance(r, dict)]
    if not runs:
        return None
    ops = {k: min(r[k] for r in runs if isinstance(r.get(k), (int, float)))
           for k in FLOOR_KEYS if any(isinstance(r.get(k), (int, float)) for r in runs)}
    if len(ops) != len(FLOOR_KEYS):
        return None
    out = {"operations_us": ops, "runs": len(runs)}
    # cheapest: X25519 (or whichever ECDHE is cheapest) and two RSA-2048
    # checks (the server's key exchange signature, the CA's on the certificate)
    ecdhe = min(ops[k] for k in CURVE_KEY.values())
    verify = min(ops["ecdsa_p256_verify_us"], ops["rsa2048_verify_us"])
    out["cheapest_us"] = ecdhe + 2 * verify
    # as negotiated: the signature on the key exchange is by the server's
    # key (its type is in the cipher suite), the one on the certificate by
    # the CA's key (the bench's BENCH_KEY, like the server's)
    ca = "ecdsa_p256_verify_us" if raw.get("meta.key") != "rsa" else "rsa2048_verify_us"
    total = count = 0
    kinds = []
    for n, proto, cipher, curve in handshake_mix(raw.get("handshakes.mtasts")):
        if curve not in CURVE_KEY or proto != "TLSv1.2" or "ECDHE" not in cipher:
            continue        # not a handshake this model covers
        ske = "ecdsa_p256_verify_us" if "ECDSA" in cipher else "rsa2048_verify_us"
        total += n * (ops[CURVE_KEY[curve]] + ops[ske] + ops[ca])
        count += n
        kinds.append("%d x %s %s: %s + %s + %s" % (n, cipher, curve, CURVE_KEY[curve],
                                                   ske, ca))
    if count:
        out["negotiated_us"] = total / count
        out["negotiated_handshakes"] = count
        out["negotiated_model"] = kinds
    return out


# (k) per-chain cold fills: the CA signatures each chain's handshakes check,
# besides the ECDHE and the server's key exchange signature (floor.c keys)
CHAIN_SIGS = {  # chain: (leaf signed with, intermediate signed with)
    "rsa": ("rsa2048_verify_us", "rsa4096_verify_us"),
    "ecdsa": ("ecdsa_p384_verify_us", "ecdsa_p384_verify_us"),
    "p256": ("ecdsa_p256_verify_us", None),
}


def floor_ops(raw):
    """Every floor.c figure, the lower of the runs before and after."""
    runs = [r for r in (raw.get("floor.before"), raw.get("floor.after")) if isinstance(r, dict)]
    keys = {k for r in runs for k, v in r.items() if isinstance(v, (int, float))}
    return {k: min(r[k] for r in runs if isinstance(r.get(k), (int, float))) for k in keys}


def chain_figures(raw):
    """Per chain and daemon, the fill round of least CPU; the floor of the
    handshakes mtasts made (each checks the ECDHE, the key exchange
    signature and the leaf's signature; the intermediate's signature once
    per fill when it is remembered, else at every handshake)."""
    n = raw.get("meta.domains") or 0
    ops = floor_ops(raw)
    out = {}
    for c in str(raw.get("meta.chains") or "").split():
        ch = {}
        for d in ("ref", "mtasts"):
            best = None
            for key, fill in raw.items():
                parts = key.split(".")
                if len(parts) != 4 or parts[:3] != ["chain", c, d] or not isinstance(fill, dict):
                    continue
                cpu = fill.get("daemon_cpu_s")
                if cpu is None or (best and best["daemon_cpu_s"] <= cpu):
                    continue
                hits = raw.get("chainhits.%s.%s.%s" % (c, d, parts[3])) or {}
                best = {"daemon_cpu_s": cpu, "round": parts[3],
                        "cpu_per_domain_us": per(cpu, n, 1e6),
                        "sys_per_domain_us": per(fill.get("daemon_sys_s"), n, 1e6),
                        "wall_s": fill.get("elapsed_s"), "p99_ms": scale(lat(fill, "p99"), 1e-3),
                        "failed": fill.get("failed"),
                        "hits_p99_us": lat(hits, "p99") if isinstance(hits, dict) else None,
                        "handshakes": raw.get("chainhs.%s.%s.%s" % (c, d, parts[3]))}
            if best:
                ch[d] = best
        mt = ch.get("mtasts")
        leaf, inter = CHAIN_SIGS[c]
        if mt and leaf in ops and (inter is None or inter in ops):
            total = count = 0
            for k, proto, cipher, curve in handshake_mix(mt["handshakes"]):
                if curve not in CURVE_KEY or CURVE_KEY[curve] not in ops or "ECDHE" not in cipher:
                    continue
                ske = "ecdsa_p256_verify_us" if "ECDSA" in cipher else "rsa2048_verify_us"
                total += k * (ops[CURVE_KEY[curve]] + ops[ske] + ops[leaf])
                count += k
            if count:
                per_hs = total / count
                once = ops[inter] if inter else 0
                ch["floor_us"] = {"per_handshake": per_hs, "intermediate_check": once,
                                  "verify_once": per_hs + (once / n if n else 0),
                                  "verify_every_time": per_hs + once}
        if mt and raw.get("profile.%s" % c):
            mt["profile"] = profile_shares(raw["profile.%s" % c])
        out[c] = ch
    return out


# Where a daemon's CPU goes, by the symbols perf sampled (BENCH_PROFILE=1):
# BearSSL's public-key code (what floor.c times), its T0-interpreted
# handshake and X.509 engines, hashes and record ciphers, the kernel, libc
# and mtasts' own code.  First match wins.
PROFILE_KINDS = (
    ("public-key", r"^(f255_|cswap$|\w*_f256$|p256_|api_|br_ccopy|br_i(15|31|32|62)_|montymul|"
                   r"br_divrem|i62_|br_rsa_|br_ecdsa_|br_ec_|point_|run_code|reduce_final)"),
    ("BearSSL engines", r"^(br_ssl_hs_client_run|br_x509_minimal_run|t0_|br_ssl_engine_|"
                        r"br_ssl_client_|br_x509_minimal_|xm_)"),
    ("hashes, ciphers", r"^(br_sha|sha|br_md5|br_multihash|br_tls|br_hmac|br_aes|aes|shift_rows|"
                        r"sub_bytes|mix_columns|add_round_key|br_ghash|ghash|rev64|bmul|"
                        r"br_chacha|br_poly|br_sslrec|gcm_|in_gcm|out_gcm|br_range_|br_enc|br_dec)"),
    ("libc", r"^(mem|str|__|sccp|poll$|recv|send|socket|connect|close|read|write|getrandom|"
             r"clock_gettime|vsnprintf|snprintf|printf_core|fmt_|out$|pad$|getint|fwrite|"
             r"madvise|time$)"),
)


def profile_shares(path):
    """perf report --sort sym text -> {kind: share of the samples}"""
    import re
    shares = {}
    total = 0.0
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return None
    for line in lines:
        m = re.match(r"\s*([0-9.]+)%\s+\[(.)\]\s+(\S+)", line)
        if not m:
            continue
        pct, space, sym = float(m.group(1)), m.group(2), m.group(3)
        if space == "k":
            kind = "kernel"
        elif sym.startswith("0x"):
            kind = "unresolved"
        else:
            kind = next((k for k, rx in PROFILE_KINDS if re.match(rx, sym)), "mtasts")
        shares[kind] = shares.get(kind, 0.0) + pct
        total += pct
    return {k: v / total for k, v in shares.items()} if total else None


def print_chains(chains):
    if not chains:
        return
    print()
    print("(k) cold fill per chain (best of the rounds; floor: BearSSL public-key work of "
          "mtasts' handshakes, the intermediate checked once per fill):")
    print("  %-6s %-7s %9s %8s %8s %9s %9s %10s  %s" % ("chain", "daemon", "CPU/dom", "sys/dom",
                                                         "wall s", "p99 ms", "hit p99", "x floor",
                                                         "handshakes"))
    for c, ch in chains.items():
        fl = (ch.get("floor_us") or {}).get("verify_once")
        for d in ("ref", "mtasts"):
            v = ch.get(d)
            if not v:
                continue
            print("  %-6s %-7s %9s %8s %8s %9s %9s %10s  %s" % (
                c, d, fmt(v["cpu_per_domain_us"], "{:.0f}"), fmt(v["sys_per_domain_us"], "{:.0f}"),
                fmt(v["wall_s"], "{:.2f}"),
                fmt(v["p99_ms"], "{:.1f}"), fmt(v["hits_p99_us"], "{:.0f}"),
                fmt(v["cpu_per_domain_us"] / fl if fl and v["cpu_per_domain_us"] else None,
                    "{:.2f}x"), v.get("handshakes") or "-"))
        f = ch.get("floor_us")
        if f:
            print("  %-6s floor %.0f us a handshake (+ %.0f us once for the intermediate; "
                  "%.0f us if checked every time)" % (c, f["per_handshake"],
                                                       f["intermediate_check"],
                                                       f["verify_every_time"]))
        mt, ref = ch.get("mtasts"), ch.get("ref")
        prof = (mt or {}).get("profile")
        if prof and mt.get("cpu_per_domain_us"):
            print("  %-6s mtasts CPU by perf: %s" % (c, ", ".join(
                "%s %.0f us" % (k, v * mt["cpu_per_domain_us"])
                for k, v in sorted(prof.items(), key=lambda kv: -kv[1]))))
        if mt and fl and mt.get("cpu_per_domain_us"):
            ok = mt["cpu_per_domain_us"] <= 1.25 * fl
            why = ""
            sysd = mt.get("sys_per_domain_us")
            if not ok and sysd is not None:
                # the kernel's time is not public-key work, and on loopback
                # it also carries the servers' side of every packet
                bound = (fl + sysd) / fl
                print("  %-6s floor + the daemon's kernel time alone: %.0f + %.0f us = %.2fx floor"
                      % (c, fl, sysd, bound))
                eng = (prof or {}).get("BearSSL engines")
                if bound > 1.25:
                    why = " (out of reach here: the floor plus the kernel's share pass 1.25x)"
                elif eng:
                    eng *= mt["cpu_per_domain_us"]
                    bound = (fl + sysd + eng) / fl
                    print("  %-6s ... + BearSSL's handshake and X.509 engines: + %.0f us = %.2fx floor"
                          % (c, eng, bound))
                    if bound > 1.25:
                        why = (" (out of reach with BearSSL: the floor, the kernel's share and "
                               "its engines pass 1.25x)")
            print("  %-6s target CPU <= 1.25x floor: %s%s" % (c, "met" if ok else "MISSED", why))
        if c == "rsa" and mt and ref:
            for what, k in (("CPU per domain", "cpu_per_domain_us"), ("wall", "wall_s")):
                if mt.get(k) is not None and ref.get(k) is not None:
                    print("  %-6s target %s <= reference: %s" % (
                        c, what, "met" if mt[k] <= ref[k] else "MISSED"))


def scale_figures(raw, sn, d):
    pre = "scale.%d." % sn
    idle, rss = raw.get(pre + "idle_rss_kb." + d), raw.get(pre + "rss_kb." + d)
    fill, hits = raw.get(pre + "fill." + d) or {}, raw.get(pre + "hits." + d) or {}
    return {
        "idle_rss_kib": idle,
        "rss_kib": rss,
        "hwm_kib": raw.get(pre + "hwm_kb." + d),
        "bytes_per_domain": (rss - idle) * 1024 / sn if rss is not None and idle is not None else None,
        "fill_wall_s": fill.get("elapsed_s"),
        "fill_cpu_per_domain_us": per(fill.get("daemon_cpu_s"), sn, 1e6),
        "fill_failed": fill.get("failed"),
        "hits_rps": hits.get("rps"),
        "hits_p99_us": lat(hits, "p99"),
        "hits_cpu_per_lookup_us": hits.get("daemon_cpu_per_req_us"),
        "hits_failed": hits.get("failed"),
    }


def scale(v, f):
    return None if v is None else v * f


def per(v, n, f):
    return None if v is None or not n else v * f / n


# ---- the table --------------------------------------------------------------
#
# A row: label, target text, getter (daemon -> value), check (values ->
# True/False/None), format.

def fmt(v, spec):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    try:
        return spec.format(v)
    except (TypeError, ValueError):
        return str(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def rows(ph, raw):
    n = raw.get("meta.domains")

    def g(*path):
        return lambda d: get(ph, d, *path)

    def le_abs(limit):
        return lambda v: None if v["mtasts"] is None else v["mtasts"] <= limit

    def lt_abs(limit):
        return lambda v: None if v["mtasts"] is None else v["mtasts"] < limit

    def vs(other, op, k):
        def check(v):
            if v["mtasts"] is None or v[other] is None:
                return None
            return op(v["mtasts"], k * v[other])
        return check

    le = lambda a, b: a <= b
    ge = lambda a, b: a >= b
    fl = floor_figures(raw) or {}
    cores = raw.get("meta.cores") or 1

    def unless_floor(check, floor_of_budget):
        """A missed target whose budget is below the public-key floor
        (floor_of_budget(ref value)) is impossible, not missed."""
        def c(v):
            ok = check(v)
            if ok is False and v["ref"] is not None and floor_of_budget(v["ref"]):
                return "impossible"
            return ok
        return c

    neg = fl.get("negotiated_us")
    # CPU: below the floor of the handshakes the fill negotiated (BearSSL
    # 0.6 offers its curves in a fixed order, so the server decides)
    cpu_floor = lambda ref: neg is not None and ref / 4 < neg
    # wall: below the negotiated handshakes' floor even spread over every core
    wall_floor = lambda ref: neg is not None and n and ref / 3 < n * neg / 1e6 / cores
    out = [
        ("startup to first reply (ms)", "<= 2x ceiling", g("startup_ms"),
         vs("ceiling", le, 2), "{:.1f}"),
        ("(b) idle RSS (KiB)", "<= 1024", g("idle_rss_kib"), le_abs(1024), "{:.0f}"),
        ("(c) cold fill %s domains, wall (s)" % n, "<= 1/3 ref", g("fill", "wall_s"),
         unless_floor(vs("ref", le, 1 / 3), wall_floor), "{:.2f}"),
        ("(c) cold fill p99 (ms)", "", g("fill", "p99_ms"), None, "{:.1f}"),
        ("(c) cold fill CPU per domain (us)", "<= 1/4 ref", g("fill", "cpu_per_domain_us"),
         unless_floor(vs("ref", le, 1 / 4), cpu_floor), "{:.0f}"),
        ("(c)   of which in the kernel (us)", "", lambda d: per(get(raw, "fill." + d,
         "daemon_sys_s"), n, 1e6), None, "{:.0f}"),
        ("(c)   public-key floor, as negotiated (us)", "",
         lambda d: neg if d == "mtasts" else None, None, "{:.0f}"),
        ("(c) cold fill failed", "0", g("fill", "failed"), le_abs(0), "{:.0f}"),
        ("(c) cached hits during the fill: p99 (us)", "", g("fill_hits", "p99_us"), None,
         "{:.0f}"),
        ("(c) cached hits during the fill: max (us)", "", g("fill_hits", "max_us"), None,
         "{:.0f}"),
        ("(c) cached hits during the fill: failed", "0", g("fill_hits", "failed"), le_abs(0),
         "{:.0f}"),
        ("(d) RSS after fill (KiB)", "<= 2048" if n == 1000 else "(N=1000: <= 2048)",
         g("fill_rss_kib"), le_abs(2048) if n == 1000 else None, "{:.0f}"),
        ("(d) VmHWM after the fill (KiB)", "", g("fill_hwm_kib"), None, "{:.0f}"),
        ("(d) VmHWM after (e,f) (KiB)", "", g("warm_hwm_kib"), None, "{:.0f}"),
        ("(d) peak RSS, VmHWM at the end (KiB)", "<= 4096", g("peak_rss_kib"), le_abs(4096),
         "{:.0f}"),
    ]
    for w, conns in (("c1", "1 conn"), ("c16", "16 conns"), ("c100", "100 conns")):
        tgt = w != "c1"
        out += [
            ("(e) warm %s: req/s" % conns, ">= 0.9x ceiling" if tgt else "",
             g("warm_" + w, "rps"), vs("ceiling", ge, 0.9) if tgt else None, "{:.0f}"),
            ("(e) warm %s: p50 (us)" % conns, "", g("warm_" + w, "p50_us"), None, "{:.1f}"),
            ("(e) warm %s: p99 (us)" % conns, "<= 1.2x ceiling" if tgt else "",
             g("warm_" + w, "p99_us"), vs("ceiling", le, 1.2) if tgt else None, "{:.1f}"),
            ("(e) warm %s: CPU per lookup (us)" % conns, "<= 1.25x ceiling",
             g("warm_" + w, "cpu_per_lookup_us"), vs("ceiling", le, 1.25), "{:.2f}"),
        ]
    out += [
        ("(f) connect per lookup: req/s", ">= 0.9x ceiling", g("warm_connect", "rps"),
         vs("ceiling", ge, 0.9), "{:.0f}"),
        ("(f) connect per lookup: p99 (us)", "", g("warm_connect", "p99_us"), None, "{:.1f}"),
        ("(f) connect per lookup: CPU (us)", "", g("warm_connect", "cpu_per_lookup_us"),
         None, "{:.2f}"),
        ("(e,f) failed requests, all runs", "0",
         lambda d: sum_warm_failed(ph, d), le_abs(0), "{:.0f}"),
        ("(g) hit p99 while 100 fetches hang (us)", "< 1000", g("hang", "p99_us"),
         lt_abs(1000), "{:.1f}"),
        ("(g) failed hits while fetches hang", "0", g("hang", "failed"), le_abs(0), "{:.0f}"),
        ("(g) hung lookups answered after (s)", "", g("hang", "hung_lookup_p50_s"), None,
         "{:.2f}"),
        ("(i) idle wakeups per second", "0", g("wakeups_per_s"), le_abs(0), "{:.1f}"),
    ]
    sizes = sorted({int(k) for d in DAEMONS for k in (get(ph, d, "scale") or {})})
    for sn in sizes:
        s = str(sn)
        big = sn == 100000
        out += [
            ("(h) %d domains: RSS (KiB)" % sn, "", g("scale", s, "rss_kib"), None, "{:.0f}"),
            ("(h) %d domains: bytes per domain" % sn, "<= 1024" if big else "",
             g("scale", s, "bytes_per_domain"), le_abs(1024) if big else None, "{:.0f}"),
            ("(h) %d domains: fill CPU/domain (us)" % sn, "", g("scale", s, "fill_cpu_per_domain_us"),
             None, "{:.0f}"),
            ("(h) %d domains: hit CPU/lookup (us)" % sn, "", g("scale", s, "hits_cpu_per_lookup_us"),
             None, "{:.2f}"),
        ]
    out.append(("(j) stripped static binary (bytes)", "<= 262144",
                lambda d: raw.get("binary_bytes") if d == "mtasts" else None,
                le_abs(262144), "{:.0f}"))
    return out


def sum_warm_failed(ph, d):
    runs = [get(ph, d, "warm_" + w, "failed") for w in WARM]
    runs = [r for r in runs if r is not None]
    return sum(runs) if runs else None


def table(ph, raw):
    header = ("metric", "target", "reference", "mtasts", "ceiling",
              "mt/ref", "mt/ceil", "")
    lines, figures = [], []
    for label, target, getter, check, spec in rows(ph, raw):
        v = {d: getter(d) for d in DAEMONS}
        ok = check(v) if check else None
        if ok == "impossible":
            status = "IMPOSSIBLE (floor below)"
        elif ok is not None:
            status = "met" if ok else "MISSED"
        elif check and get(raw, "startup.mtasts") is not None:
            status = "no data"
        else:
            status = ""
        r1, r2 = ratio(v["mtasts"], v["ref"]), ratio(v["mtasts"], v["ceiling"])
        lines.append((label, target, fmt(v["ref"], spec), fmt(v["mtasts"], spec),
                      fmt(v["ceiling"], spec), fmt(r1, "{:.2f}"), fmt(r2, "{:.2f}"), status))
        figures.append({"metric": label, "target": target or None,
                        "reference": v["ref"], "mtasts": v["mtasts"], "ceiling": v["ceiling"],
                        "mtasts_vs_reference": r1, "mtasts_vs_ceiling": r2,
                        "target_met": None if ok == "impossible" else ok,
                        "target_impossible": ok == "impossible"})
    widths = [max(len(x[i]) for x in lines + [header]) for i in range(len(header))]
    out = []
    for i, row in enumerate([header] + lines):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [row[j].rjust(widths[j]) for j in range(2, 7)]
        cells.append(row[7])
        out.append("  ".join(cells).rstrip())
        if i == 0:
            out.append("-" * len(out[0]))
    return "\n".join(out), figures


def main():
    raw, warnings = load_raw(sys.argv[1])
    warnings = merge_warnings(warnings)
    ph = collect(raw)
    text, figures = table(ph, raw)
    meta = {k[5:]: v for k, v in raw.items() if k.startswith("meta.")}
    versions = {k[8:]: v for k, v in raw.items() if k.startswith("version.")}
    met = [f for f in figures if f["target_met"] is not None]
    impossible = [f["metric"] for f in figures if f["target_impossible"]]
    fl = floor_figures(raw)
    chains = chain_figures(raw)
    result = {
        "machine": {k: meta.get(k) for k in ("cpu_model", "cores", "kernel", "cpus",
                                             "loadavg_before", "loadavg_after")},
        "versions": versions,
        "git": {"commit": meta.get("git_commit"), "dirty": meta.get("git_dirty")},
        "config": dict({k: meta.get(k) for k in ("domains", "seconds", "reps", "connect_conns",
                                                 "ca_anchors", "key")},
                       names_per_certificate={k.split(".", 1)[1]: v for k, v in meta.items()
                                              if k.startswith("names_per_cert.")}),
        "binary": {"stripped_bytes": raw.get("binary_bytes"),
                   "unstripped_bytes": raw.get("binary_unstripped_bytes"),
                   "static": raw.get("binary_static")},
        "phases": ph,
        "table": figures,
        "targets": {"met": sum(1 for f in met if f["target_met"]),
                    "missed": [f["metric"] for f in met if not f["target_met"]],
                    "impossible": impossible},
        "public_key_floor": fl,
        "chains": chains,
        "warnings": warnings,
        "raw": raw,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    print(text)
    print()
    print("machine: %s, %s cores (%s); load average %s before, %s after" % (
        meta.get("cpu_model"), meta.get("cores"), meta.get("cpus"),
        meta.get("loadavg_before"), meta.get("loadavg_after")))
    print("versions: " + ", ".join("%s %s" % kv for kv in sorted(versions.items())))
    print("commit %s%s; %s domains, %s rounds of %s s warm runs (medians); "
          "CA bundle of %s anchors, %s keys" % (
              meta.get("git_commit"), " (dirty)" if meta.get("git_dirty") is True else "",
              meta.get("domains"), meta.get("reps"), meta.get("seconds"),
              meta.get("ca_anchors", "?"), "RSA-2048" if meta.get("key") == "rsa" else "P-256"))
    print("targets: %d met, %d missed, %d impossible on this machine" % (
        result["targets"]["met"], len(result["targets"]["missed"]), len(impossible)))
    if fl:
        print_floor(fl, raw, ph)
    print_chains(chains)
    print_shared(raw, ph)
    for w in warnings:
        print("WARNING: %s" % w)


def print_floor(fl, raw, ph):
    """Why the cold-fill targets can be out of reach: the CPU that BearSSL's
    public-key operations need per TLS handshake on this machine."""
    ops, n = fl["operations_us"], raw.get("meta.domains")
    cores = raw.get("meta.cores") or 1
    print()
    print("public-key floor of a cold lookup (bench/floor.c: BearSSL as mtasts links it, "
          "fastest of %d runs x 15 batches, us):" % fl["runs"])
    print("  ECDHE P-256 %.0f, X25519 %.0f, P-384 %.0f; ECDSA P-256 check %.0f; "
          "RSA-2048 check %.0f" % tuple(ops[k] for k in FLOOR_KEYS))
    for d in ("ref", "mtasts"):
        print("  handshakes of the %s fill, as nginx logged them: %s" % (
            d, raw.get("handshakes." + d) or "-"))
    if "negotiated_us" in fl:
        print("  floor of mtasts' handshakes (ECDHE + key exchange signature + "
              "certificate signature): %.0f us" % fl["negotiated_us"])
    print("  floor of the cheapest forward-secret handshake (X25519 + 2 RSA-2048 "
          "checks): %.0f us" % fl["cheapest_us"])
    ref = get(ph, "ref", "fill")
    mt = get(ph, "mtasts", "fill")
    if ref and ref.get("cpu_per_domain_us"):
        budget = ref["cpu_per_domain_us"] / 4
        print("  CPU target 1/4 of the reference = %.0f us per domain: %s" % (
            budget, "; ".join("%.1fx below the %s floor" % (f / budget, what)
                              for what, f in (("negotiated", fl.get("negotiated_us")),
                                              ("cheapest", fl["cheapest_us"]))
                              if f is not None and f > budget) or "above the floors"))
    if ref and ref.get("wall_s") and "negotiated_us" in fl and n:
        print("  wall target 1/3 of the reference = %.2f s; the floor of %s lookups is "
              "%.2f s on one core, %.2f s spread over all %d" % (
                  ref["wall_s"] / 3, n, n * fl["negotiated_us"] / 1e6,
                  n * fl["negotiated_us"] / 1e6 / cores, cores))
    if mt and mt.get("cpu_per_domain_us") and "negotiated_us" in fl:
        print("  mtasts: %.0f us per domain = floor + %.0f us (everything else: DNS, "
              "TCP, TLS records, X.509, HTTP, the cache, the kernel)" % (
                  mt["cpu_per_domain_us"], mt["cpu_per_domain_us"] - fl["negotiated_us"]))


def print_shared(raw, ph):
    """(l): the second instance's fill from Redis against a standalone cold
    fill, and warm hits with Redis configured against warm hits without."""
    n = raw.get("meta.domains")
    a, b = raw.get("shared.fill.a"), raw.get("shared.fill.b")
    if not isinstance(a, dict) or not isinstance(b, dict):
        return
    cold = get(ph, "mtasts", "fill") or {}
    print()
    print("(l) shared cache in Redis, %s domains:" % n)
    rows = [("standalone cold fill (c)", cold.get("wall_s"), cold.get("cpu_per_domain_us"),
             None),
            ("instance A, Redis empty", a.get("elapsed_s"),
             per(a.get("daemon_cpu_s"), n, 1e6), raw.get("shared.handshakes.a")),
            ("instance B, from Redis", b.get("elapsed_s"),
             per(b.get("daemon_cpu_s"), n, 1e6), raw.get("shared.handshakes.b"))]
    for label, wall, cpu, hs in rows:
        print("  %-26s wall %s s, CPU %s us/domain, %s handshakes, %s failed" % (
            label, fmt(wall, "{:.2f}"), fmt(cpu, "{:.0f}"), fmt(hs, "{:.0f}"),
            fmt((a if "A" in label else b if "B" in label else cold).get("failed"), "{:.0f}")))
    bw, bc = b.get("elapsed_s"), per(b.get("daemon_cpu_s"), n, 1e6)
    if bw and cold.get("wall_s") and bc and cold.get("cpu_per_domain_us"):
        print("  B against the standalone cold fill: %.1fx faster (wall), %.1fx less CPU" % (
            cold["wall_s"] / bw, cold["cpu_per_domain_us"] / bc))
    w, c16 = raw.get("shared.c16"), get(ph, "mtasts", "warm_c16") or {}
    if isinstance(w, dict):
        print("  warm hits, 16 connections: %s us CPU/lookup with Redis configured, "
              "%s without (median of (e)); p99 %s us against %s" % (
                  fmt(w.get("daemon_cpu_per_req_us"), "{:.2f}"),
                  fmt(c16.get("cpu_per_lookup_us"), "{:.2f}"), fmt(lat(w, "p99"), "{:.0f}"),
                  fmt(c16.get("p99_us"), "{:.0f}")))
    print("  Redis: %s keys, used_memory %s bytes" % (
        raw.get("shared.redis_keys"), raw.get("shared.redis_used_bytes")))


if __name__ == "__main__":
    main()
