#!/usr/bin/env bash
# Run the firmware's sessions against the private Postfix and judge each one by
# what reached the server (Maildir and Postfix's log), not by what the firmware says.
#
#   scripts/firmware-test.sh [--firmware PATH] [--only NAME,...] [--count N]
#                            [--mech MECH] [--timeout SECONDS] [--list]
#
#   --firmware PATH   the runner to drive (default scripts/firmware.sh; env FIRMWARE_SH)
#   --only NAMES      run only these scenarios (comma-separated; see --list)
#   --count N         messages in the repeated-sends scenario (default 100)
#   --mech MECH       the AUTH mechanism the firmware must use (default SCRAM-SHA-256, the
#                     strongest one Postfix offers that the device implements; PLAIN for a
#                     firmware built without SCRAM)
#   --timeout S       per firmware.sh call, build included (default 900 + 35 per message;
#                     env FIRMWARE_TIMEOUT)
#   --list            print the scenarios and exit
#
# Needs scripts/postfix-up.sh to have run (it sources target/postfix/env, or
# $POSTEL_POSTFIX_STATE/env). Each scenario calls
#   firmware.sh --server 127.0.0.1:PORT --tls starttls|implicit|none --ca-file PEM
#               --tls-name NAME --user USER --password-file FILE --from ADDR --to ADDR [--count N]
# with a sender unique to the run (dev-<scenario>-<random>@example.test), then checks:
#   accepted   firmware exit 0; exactly N files in the Maildir whose Return-Path is that
#              sender, each received `with ESMTPSA` (TLS+AUTH) or `with ESMTP` (plain); each
#              one's queue id logged by the expected listener with
#              `sasl_method=MECH, sasl_username=USER@DOMAIN` (none for plain), in a connection
#              of its own that negotiated TLSv1.3 (TLS scenarios) and authenticated once.
#   refused    firmware exit non-zero (not a timeout); no message with that sender and no
#              `from=<sender>` logged; on the scenario's listener at least one connection, and
#              every connection there shows `SSL_accept error from` (the aborted handshake),
#              no `TLS connection established`, no `sasl_` line, and no `auth=` in its
#              `disconnect from` statistics.
# One line per scenario, then `firmware: N passed, M failed`; exit status 1 if any failed.
# The sizes the firmware printed (flash, static RAM, stack high-water mark) for the plain
# and STARTTLS+AUTH runs go to target/firmware-sizes.txt; each run's output to
# target/firmware-test/<scenario>.log.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${POSTEL_POSTFIX_STATE:-$REPO/target/postfix}
OUTDIR=$REPO/target/firmware-test
SIZES=$REPO/target/firmware-sizes.txt

FIRMWARE=${FIRMWARE_SH:-$HERE/firmware.sh}
TIMEOUT=${FIRMWARE_TIMEOUT:-}
REPEAT=100
MECH=SCRAM-SHA-256
ONLY=
LIST=0

die() { printf 'firmware-test: ERROR: %s\n' "$*" >&2; exit 2; }

while (($#)); do
    case $1 in
    --firmware) FIRMWARE=${2:?}; shift 2 ;;
    --only) ONLY=${2:?}; shift 2 ;;
    --count) REPEAT=${2:?}; shift 2 ;;
    --mech) MECH=${2:?}; shift 2 ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    --list) LIST=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "--count must be a positive number"
[[ -z $TIMEOUT || $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
[[ $MECH =~ ^[A-Z0-9-]+$ ]] || die "--mech must be a SASL mechanism name such as PLAIN"

# name|kind|listener|tls|ca|tls-name|auth|count|what
#   kind: accept or refuse; listener: the POSTEL_POSTFIX_<LISTENER> variable; ca: a
#   POSTEL_POSTFIX_* variable naming the trust anchor file.
SCENARIOS=(
    "plain|accept|PLAIN|none|CA|localhost|no|1|plain session, no TLS, no AUTH"
    "starttls-auth|accept|DEVICE_STARTTLS|starttls|CA|localhost|yes|1|STARTTLS + AUTH, ECDSA leaf via intermediate"
    "implicit-auth|accept|IMPLICIT|implicit|CA|localhost|yes|1|implicit TLS + AUTH, ECDSA leaf via intermediate"
    "rsa-starttls-auth|accept|DEVICE_RSA|starttls|RSA_CA|localhost|yes|1|STARTTLS + AUTH, RSA-2048 chain"
    "rsa-implicit-auth|accept|DEVICE_RSA_IMPLICIT|implicit|RSA_CA|localhost|yes|1|implicit TLS + AUTH, RSA-2048 chain"
    "refuse-wrong-host|refuse|DEVICE_WRONGHOST|starttls|CA|localhost|yes|1|leaf is for wrong.example"
    "refuse-wrong-tls-name|refuse|DEVICE_STARTTLS|starttls|CA|wrong.example|yes|1|good server, client expects wrong.example"
    "refuse-unknown-root|refuse|DEVICE_STARTTLS|starttls|RSA_CA|localhost|yes|1|good chain under a root the device does not trust"
    "refuse-self-signed|refuse|DEVICE_UNTRUSTED|starttls|CA|localhost|yes|1|self-signed leaf"
    "refuse-expired|refuse|DEVICE_EXPIRED|starttls|CA|localhost|yes|1|leaf expired 2021-01-01"
    "refuse-no-intermediate|refuse|DEVICE_NOCHAIN|starttls|CA|localhost|yes|1|leaf sent without its intermediate"
    "repeat-starttls-auth|accept|DEVICE_STARTTLS|starttls|CA|localhost|yes|$REPEAT|$REPEAT sends in a row, STARTTLS + AUTH, new connection each"
)

if ((LIST)); then
    for s in "${SCENARIOS[@]}"; do
        IFS='|' read -r name kind _ _ _ _ _ _ what <<<"$s"
        printf '%-24s %-7s %s\n' "$name" "$kind" "$what"
    done
    exit 0
fi

# ---------------------------------------------------------------------------
# The server.
# ---------------------------------------------------------------------------
ENVFILE=$STATE/env
[[ -f $ENVFILE ]] || die "$ENVFILE missing: Postfix is not up; run scripts/postfix-up.sh (as root) first"
# shellcheck disable=SC1090
. "$ENVFILE"
for v in PLAIN IMPLICIT DEVICE_STARTTLS DEVICE_RSA DEVICE_RSA_IMPLICIT DEVICE_NOCHAIN \
    DEVICE_EXPIRED DEVICE_WRONGHOST DEVICE_UNTRUSTED CA RSA_CA PASSWORD_FILE USER DOMAIN MAILDIR LOG; do
    var=POSTEL_POSTFIX_$v
    [[ -n ${!var-} ]] || die "$var not set in $ENVFILE: re-run scripts/postfix-up.sh (it predates the device listeners)"
done
for v in PLAIN IMPLICIT DEVICE_STARTTLS DEVICE_RSA DEVICE_RSA_IMPLICIT DEVICE_NOCHAIN \
    DEVICE_EXPIRED DEVICE_WRONGHOST DEVICE_UNTRUSTED; do
    var=POSTEL_POSTFIX_$v
    hp=${!var}
    # shellcheck disable=SC2016  # expanded by the inner bash
    if ! timeout 3 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}"' _ "$hp" 2>/dev/null; then
        die "Postfix is not up: nothing listens on $hp ($var); run scripts/postfix-up.sh"
    fi
done
[[ -r $POSTEL_POSTFIX_LOG ]] || die "cannot read the Postfix log $POSTEL_POSTFIX_LOG"
[[ -x $FIRMWARE || -f $FIRMWARE ]] || die "firmware runner $FIRMWARE not found"

mkdir -p "$OUTDIR"
SASL_USER=$POSTEL_POSTFIX_USER@$POSTEL_POSTFIX_DOMAIN
TO=device@$POSTEL_POSTFIX_DOMAIN

# ---------------------------------------------------------------------------
# The judge: reads the log from an offset and the Maildir, polls until the
# verdict is a pass or the deadline passes, prints one summary line (or the
# reasons for failing) and exits 0 on pass.
# ---------------------------------------------------------------------------
judge() {
    python3 - "$@" <<'EOF'
import argparse, os, re, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--kind", choices=("accept", "refuse"), required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--offset", type=int, required=True)
ap.add_argument("--maildir", required=True)
ap.add_argument("--sender", required=True)
ap.add_argument("--listener", required=True)  # syslog name, e.g. postel-postfix/device-rsa
ap.add_argument("--tls", choices=("none", "starttls", "implicit"), required=True)
ap.add_argument("--auth", choices=("yes", "no"), required=True)
ap.add_argument("--mech", required=True)
ap.add_argument("--user", required=True)
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--wait", type=float, default=30.0)
a = ap.parse_args()

LINE = re.compile(r"^\S+ +\d+ [\d:]+ \S+ (?P<svc>\S+)/(?P<prog>[a-z]+)\[(?P<pid>\d+)\]: (?P<msg>.*)$")
RECEIVED = re.compile(rb"\nReceived: from [^\n]*\n\tby [^\n]* with (?P<proto>[A-Z0-9]+) id (?P<qid>[0-9A-Za-z]+)")


def read_log():
    with open(a.log, "rb") as f:
        f.seek(a.offset)
        return f.read().decode("utf-8", "replace").splitlines()


def connections(lines):
    """smtpd connections of every listener, in log order: (svc, lines, ended)."""
    out, current = [], {}
    for l in lines:
        m = LINE.match(l)
        if not m or m["prog"] != "smtpd":
            continue
        key = (m["svc"], m["pid"])
        msg = m["msg"]
        if msg.startswith("connect from "):
            current[key] = len(out)
            out.append([m["svc"], [msg], False])
        elif key in current:
            conn = out[current[key]]
            conn[1].append(msg)
            if msg.startswith("disconnect from "):
                conn[2] = True
                del current[key]
    return [tuple(c) for c in out]


def maildir_hits():
    hits = []
    first = ("Return-Path: <%s>\n" % a.sender).encode()
    for sub in ("new", "cur"):
        d = os.path.join(a.maildir, sub)
        for n in os.listdir(d) if os.path.isdir(d) else ():
            p = os.path.join(d, n)
            try:
                with open(p, "rb") as f:
                    head = f.read(4096)
            except OSError:
                continue
            if head.startswith(first):
                hits.append((p, head))
    return hits


def verdict_accept(lines):
    errs = []
    hits = maildir_hits()
    if len(hits) != a.count:
        errs.append("%d message(s) from <%s> in the Maildir, expected %d" % (len(hits), a.sender, a.count))
    want_proto = {("none", "no"): "ESMTP", ("none", "yes"): "ESMTPA"}.get((a.tls, a.auth), "ESMTPSA" if a.auth == "yes" else "ESMTPS")
    qids = []
    for p, head in hits:
        m = RECEIVED.search(head)
        if not m:
            errs.append("%s: no Received header from Postfix" % p)
            continue
        if m["proto"].decode() != want_proto:
            errs.append("%s: received with %s, expected %s" % (os.path.basename(p), m["proto"].decode(), want_proto))
        qids.append(m["qid"].decode())
    conns = connections(lines)
    froms = set()
    for l in lines:
        m = LINE.match(l)
        if m and m["prog"] == "qmgr":
            q = re.match(r"([0-9A-Za-z]+): from=<([^>]*)>", m["msg"])
            if q and q[2] == a.sender:
                froms.add(q[1])
    used = set()
    mechs = set()
    suites = set()
    for q in qids:
        if q not in froms:
            errs.append("%s: no `%s: from=<%s>` in the log" % (q, q, a.sender))
        found = [i for i, (svc, ls, done) in enumerate(conns) if any(x.startswith(q + ": client=") for x in ls)]
        if len(found) != 1:
            errs.append("%s: %d smtpd connection(s) log it (expected 1)" % (q, len(found)))
            continue
        i = found[0]
        svc, ls, done = conns[i]
        if i in used:
            errs.append("%s: shares its connection with another message (each send must use a new connection)" % q)
        used.add(i)
        if svc != a.listener:
            errs.append("%s: came in through %s, expected %s" % (q, svc, a.listener))
        client = next(x for x in ls if x.startswith(q + ": client="))
        sm = re.search(r"sasl_method=([^,\s]+), sasl_username=(\S+)", client)
        if a.auth == "yes":
            if not sm:
                errs.append("%s: not authenticated (%s)" % (q, client))
            else:
                mechs.add(sm[1])
                if sm[1] != a.mech:
                    errs.append("%s: AUTH %s, expected %s" % (q, sm[1], a.mech))
                if sm[2] != a.user:
                    errs.append("%s: sasl_username=%s, expected %s" % (q, sm[2], a.user))
        elif sm or any("sasl_" in x for x in ls):
            errs.append("%s: authenticated although no user was given (%s)" % (q, client))
        tls = [x for x in ls if " TLS connection established from " in x]
        if a.tls == "none":
            if tls:
                errs.append("%s: TLS was negotiated on a plain session" % q)
        elif not tls:
            errs.append("%s: no `TLS connection established` in its connection" % q)
        else:
            t = re.search(r": (TLSv[\d.]+) with cipher (\S+) .* key-exchange (\S+(?: \([^)]*\))?)", tls[0])
            if not t or t[1] != "TLSv1.3":
                errs.append("%s: not TLS 1.3: %s" % (q, tls[0]))
            else:
                suites.add("%s %s %s" % (t[1], t[2], t[3]))
        if not done:
            errs.append("%s: its connection has no `disconnect from` line yet" % q)
        else:
            disc = ls[-1]
            if a.auth == "yes" and not re.search(r" auth=1 ", disc):
                errs.append("%s: %s (expected exactly one successful AUTH)" % (q, disc))
            if a.tls == "starttls" and " starttls=1 " not in disc:
                errs.append("%s: %s (expected starttls=1)" % (q, disc))
    detail = "%d message(s) received with %s" % (len(hits), want_proto)
    if a.auth == "yes":
        detail += ", AUTH %s as %s" % ("/".join(sorted(mechs)) or "-", a.user)
    if a.tls != "none":
        detail += ", " + ("/".join(sorted(suites)) or "-")
    detail += ", %d connection(s) on %s" % (len(used), a.listener)
    return errs, detail


def verdict_refuse(lines):
    errs = []
    hits = maildir_hits()
    if hits:
        errs.append("%d message(s) from <%s> reached the Maildir" % (len(hits), a.sender))
    if any(("from=<%s>" % a.sender) in l for l in lines):
        errs.append("the log has a message from <%s>" % a.sender)
    conns = [(ls, done) for svc, ls, done in connections(lines) if svc == a.listener]
    # QEMU's UART socket reconnects on its own: a connection that never sent a byte
    # (`lost connection after CONNECT`, `commands=0/0`, no TLS attempt) is not a session.
    def empty(ls, done):
        return done and len(ls) == 3 and ls[1].startswith("lost connection after CONNECT ") and ls[2].endswith(" commands=0/0")
    idle = [c for c in conns if empty(*c)]
    mine = [c for c in conns if not empty(*c)]
    if not mine:
        errs.append("no session on %s was logged (%d idle connection(s))" % (a.listener, len(idle)))
    why = []
    for ls, done in mine:
        if not done:
            errs.append("a connection on %s has no `disconnect from` line yet" % a.listener)
            continue
        bad = []
        if not any(x.startswith("SSL_accept error from ") for x in ls):
            bad.append("no `SSL_accept error` (aborted handshake)")
        if any(" TLS connection established from " in x for x in ls):
            bad.append("the TLS handshake completed")
        if any("sasl_" in x for x in ls):
            bad.append("AUTH was logged")
        if re.search(r" (auth|mail|rcpt|data|bdat)=", ls[-1]):
            bad.append("the client went on after the refusal")
        if bad:
            errs.append("%s; the connection: %s" % (", ".join(bad), " | ".join(ls)))
        alert = [re.search(r"SSL routines::([^:]+)", x) for x in ls if "TLS library problem" in x]
        alert = [m[1] for m in alert if m]
        if alert:
            why.append(alert[0])
        else:
            lost = [x for x in ls if x.startswith("SSL_accept error from ")]
            why.append(lost[0].split(": ", 1)[-1] if lost else "?")
    detail = "refused before AUTH: %d session(s) on %s, server saw: %s" % (
        len(mine), a.listener, "; ".join(sorted(set(why))) or "-")
    if idle:
        detail += " (+%d idle connection(s))" % len(idle)
    return errs, detail


deadline = time.monotonic() + a.wait
while True:
    lines = read_log()
    errs, detail = (verdict_accept if a.kind == "accept" else verdict_refuse)(lines)
    if not errs or time.monotonic() > deadline:
        break
    time.sleep(0.5)
if errs:
    for e in errs[:12]:
        print(e)
    if len(errs) > 12:
        print("... %d more" % (len(errs) - 12))
    sys.exit(1)
print(detail)
EOF
}

# ---------------------------------------------------------------------------
# Scenarios.
# ---------------------------------------------------------------------------
passed=0
failed=0
sizes_tmp=$(mktemp)
trap 'rm -f "$sizes_tmp"' EXIT
{
    echo "# Sizes reported by scripts/firmware.sh (flash = .vector_table+.text+.rodata,"
    echo "# static RAM = .data+.bss, bytes; stack high-water mark), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$sizes_tmp"
sized=()

selected() { [[ -z $ONLY || ",$ONLY," == *",$1,"* ]]; }
if [[ -n $ONLY ]]; then
    IFS=, read -ra want <<<"$ONLY"
    for w in "${want[@]}"; do
        [[ $w == tarpit-greeting ]] && continue
        printf '%s\n' "${SCENARIOS[@]}" | grep -q "^$w|" || die "no scenario named $w (see --list)"
    done
fi

for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r name kind listener tls cavar tlsname auth count what <<<"$s"
    selected "$name" || continue

    var=POSTEL_POSTFIX_$listener
    server=${!var}
    syslog=postel-postfix/$(tr 'A-Z_' 'a-z-' <<<"$listener")
    rand=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
    sender=dev-$name-$rand@$POSTEL_POSTFIX_DOMAIN

    # firmware.sh takes every option on every run; on the plain listener no AUTH is
    # offered (and a device must never AUTH without TLS), so the user goes unused there.
    cvar=POSTEL_POSTFIX_$cavar
    args=(--server "$server" --tls "$tls" --ca-file "${!cvar}" --tls-name "$tlsname"
        --user "$POSTEL_POSTFIX_USER" --password-file "$POSTEL_POSTFIX_PASSWORD_FILE"
        --from "$sender" --to "$TO")
    ((count == 1)) || args+=(--count "$count")
    limit=${TIMEOUT:-$((900 + 35 * count))}

    out=$OUTDIR/$name.log
    offset=$(stat -c %s "$POSTEL_POSTFIX_LOG")
    printf '$ %q' "$FIRMWARE" >"$out"
    printf ' %q' "${args[@]}" >>"$out"
    printf '\n' >>"$out"
    t0=$(date +%s%N)
    rc=0
    timeout --kill-after=10 "$limit" bash "$FIRMWARE" "${args[@]}" >>"$out" 2>&1 </dev/null || rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')

    problems=()
    if ((rc == 124 || rc == 137)); then
        problems+=("firmware.sh timed out (exit $rc; limit ${limit}s)")
    elif [[ $kind == accept ]] && ((rc != 0)); then
        problems+=("firmware.sh exited $rc, expected 0 (last lines of $out:)")
        while IFS= read -r l; do problems+=("  | $l"); done < <(tail -n 8 "$out")
    elif [[ $kind == refuse ]] && ((rc == 0)); then
        problems+=("firmware.sh exited 0, expected a refusal")
    fi

    # Repeated sends: RAM must not grow. There is no heap (static RAM is fixed at link
    # time), so what could grow is the stack: its high-water mark after the last message
    # must be the one after the first.
    if [[ $kind == accept ]] && ((rc == 0 && count > 1)); then
        marks=$(sed -nE 's/^message [0-9]+\/[0-9]+: accepted .*\(stack high-water mark ([0-9]+) bytes\)$/\1/p' "$out")
        first=$(head -n 1 <<<"$marks") last=$(tail -n 1 <<<"$marks")
        if (($(grep -c . <<<"$marks") != count)); then
            problems+=("the firmware reported $(grep -c . <<<"$marks") stack marks for $count messages")
        elif [[ $first != "$last" ]]; then
            problems+=("RAM grew: stack high-water mark $first bytes after message 1, $last after message $count")
        else
            printf '%s: stack high-water mark %s bytes after message 1 and after message %s\n' \
                "$name" "$first" "$count" >>"$out"
        fi
    fi

    verdict=$(judge --kind "$kind" --log "$POSTEL_POSTFIX_LOG" --offset "$offset" \
        --maildir "$POSTEL_POSTFIX_MAILDIR" --sender "$sender" --listener "$syslog" \
        --tls "$tls" --auth "$auth" --mech "$MECH" --user "$SASL_USER" --count "$count" \
        --wait "$([[ $kind == accept ]] && echo 30 || echo 10)") || problems+=("$verdict")

    if ((${#problems[@]} == 0)); then
        passed=$((passed + 1))
        printf 'PASS %-24s %s (exit %d, %s s)\n' "$name" "$verdict" "$rc" "$secs"
    else
        failed=$((failed + 1))
        printf 'FAIL %-24s %s; sender %s (exit %d, %s s)\n' "$name" "$what" "$sender" "$rc" "$secs"
        printf '%s\n' "${problems[@]}" | sed 's/^/    /'
    fi

    # Sizes of builds that worked only.
    if [[ $name == plain || $name == starttls-auth ]] && ((${#problems[@]} == 0)); then
        sz=$(tail -n 3 "$out" | grep -E '^(flash|static RAM|stack high-water mark): ' || true)
        if [[ -n $sz ]]; then
            while IFS= read -r l; do printf '%s: %s\n' "$name" "$l"; done <<<"$sz" >>"$sizes_tmp"
            sized+=("$name")
        else
            echo "firmware-test: warning: $name: firmware.sh's last lines are not flash/static RAM/stack" >&2
        fi
    fi
done

# The tarpit: a server (started here, on loopback) that dribbles its greeting one octet
# every 500 ms. The firmware, built with every step's timeout at 3 s, must give up at the
# greeting after 3 s (the whole-reply bound, measured by its SysTick clock), not wait for the
# reply to finish or hang.
if selected tarpit-greeting; then
    out=$OUTDIR/tarpit-greeting.log
    portfile=$(mktemp)
    python3 - "$portfile" <<'PY' &
import socket, sys, threading, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.getsockname()[1]))
srv.settimeout(120)
def dribble(c):
    try:
        for b in b"220 tarpit.example ESMTP, one octet at a time\r\n":
            c.sendall(bytes([b]))
            time.sleep(0.5)
        time.sleep(5)
    except OSError:
        pass
    c.close()
try:
    while True:
        c, _ = srv.accept()
        threading.Thread(target=dribble, args=(c,), daemon=True).start()
except OSError:
    pass
PY
    tarpit=$!
    for _ in $(seq 50); do [[ -s $portfile ]] && break; sleep 0.1; done
    port=$(cat "$portfile")
    rm -f "$portfile"
    rc=0
    t0=$(date +%s%N)
    POSTEL_FW_STEP_TIMEOUT_MS=3000 timeout --kill-after=10 600 bash "$FIRMWARE" \
        --server "127.0.0.1:$port" --tls none --ca-file "$POSTEL_POSTFIX_CA" --tls-name localhost \
        --user "$POSTEL_POSTFIX_USER" --password-file "$POSTEL_POSTFIX_PASSWORD_FILE" \
        --from "dev-tarpit@$POSTEL_POSTFIX_DOMAIN" --to "$TO" >"$out" 2>&1 </dev/null || rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    kill "$tarpit" 2>/dev/null || true
    wait "$tarpit" 2>/dev/null || true
    # "message 1/1: failed after 3001 ms: timed out waiting at Greeting"
    ms=$(sed -nE 's/^message 1\/1: failed after ([0-9]+) ms: timed out waiting at Greeting$/\1/p' "$out")
    if ((rc != 0 && rc != 124 && rc != 137)) && [[ -n $ms ]] && ((ms >= 3000 && ms < 4500)); then
        passed=$((passed + 1))
        printf 'PASS %-24s greeting dribbled at 2 octets/s cut off after %s ms on the device (exit %d, %s s)\n' \
            tarpit-greeting "$ms" "$rc" "$secs"
    else
        failed=$((failed + 1))
        printf 'FAIL %-24s expected a Greeting timeout after 3000-4500 ms; exit %d, %s s; last lines of %s:\n' \
            tarpit-greeting "$rc" "$secs" "$out"
        tail -n 8 "$out" | sed 's/^/    | /'
    fi
fi

# Replace the lines of the scenarios measured now; keep the others' lines.
if ((${#sized[@]})); then
    if [[ -f $SIZES ]]; then
        for n in plain starttls-auth; do
            [[ " ${sized[*]} " == *" $n "* ]] || grep "^$n: " "$SIZES" >>"$sizes_tmp" || true
        done
    fi
    cp -f "$sizes_tmp" "$SIZES"
fi
echo "firmware: $passed passed, $failed failed"
((failed == 0))
