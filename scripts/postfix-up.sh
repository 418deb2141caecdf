#!/usr/bin/env bash
# Start a private, loopback-only Postfix instance for Postel's real-server tests.
#
#   scripts/postfix-up.sh [STATE_DIR]      (default: $REPO/target/postfix)
#
# Everything (config, queue, data, log, Maildir, sasldb, PKI) lives under
# STATE_DIR; nothing touches /etc/postfix or port 25. Writes STATE_DIR/env with
# `export POSTEL_POSTFIX_*=...` lines; test code only reads those variables.
# See docs/testing-postfix.md.
#
# Port overrides: POSTEL_POSTFIX_PORT_<LISTENER>=NNNN (e.g. POSTEL_POSTFIX_PORT_PLAIN).
# POSTEL_POSTFIX_IPV6=0: don't listen on [::1] even if it exists.
# Idempotent: re-running regenerates the config; if the instance is running with
# an identical config it is left alone, otherwise it is restarted.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${1:-${POSTEL_POSTFIX_STATE:-$REPO/target/postfix}}

log() { printf 'postfix-up: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (Postfix's master runs as root)"
for b in postfix postconf saslpasswd2 openssl python3; do
    command -v "$b" >/dev/null || die "$b not found: run scripts/install-deps.sh"
done
id postfix >/dev/null 2>&1 || die "no postfix user: run scripts/install-deps.sh"
getent group postdrop >/dev/null || die "no postdrop group: run scripts/install-deps.sh"

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd -P)
[[ $STATE != *[[:space:],]* ]] || die "state dir path must not contain spaces or commas: $STATE"

# ---------------------------------------------------------------------------
# Where the instance itself lives. Postfix daemons run as the postfix user and
# open absolute paths (sasldb, Maildir, log), so every parent directory must be
# searchable by that user; Unix socket paths must also stay short (<108 bytes).
# If STATE fails either test, the instance lives under /tmp and STATE/run is a
# symlink to it.
# ---------------------------------------------------------------------------
traversable() {
    local d=$1
    while [[ -n $d && $d != / ]]; do
        runuser -u postfix -- test -x "$d" 2>/dev/null || return 1
        d=$(dirname "$d")
    done
}
RUN=$STATE/run
if [[ -L $RUN ]]; then
    rm -f "$RUN"
fi
if ! traversable "$STATE" || ((${#RUN} > 60)); then
    h=$(printf '%s' "$STATE" | sha1sum | cut -c1-10)
    ALT=/tmp/postel-postfix-$h
    mkdir -p "$ALT"
    chmod 0755 "$ALT"
    rm -rf "$RUN"
    ln -s "$ALT" "$RUN"
    RUN=$ALT
else
    mkdir -p "$RUN"
fi
chmod 0755 "$STATE" "$RUN"

CONF=$RUN/conf
QUEUE=$RUN/queue
DATA=$RUN/data
MAILBASE=$RUN/mail
MAILDIR=$MAILBASE/catchall
LOGDIR=$RUN/log
LOGFILE=$LOGDIR/postfix.log
SASLDIR=$RUN/sasl
SASLDB=$SASLDIR/sasldb2
PKI=$STATE/pki

PF_UID=$(id -u postfix)
PF_GID=$(id -g postfix)

# ---------------------------------------------------------------------------
# Test identities.
# ---------------------------------------------------------------------------
DOMAIN=example.test
UTF8_DOMAIN=bücher.test
UTF8_DOMAIN_ACE=xn--bcher-kva.test
SASL_USER=alice
SASL_PASSWORD=${POSTEL_POSTFIX_PASSWORD:-correct-horse-battery-staple}
REFUSED=refused@$DOMAIN
TEMPFAIL=tempfail@$DOMAIN
SIZE_LIMIT=10485760

# name default-port
LISTENERS=(
    PLAIN:12525
    SUBMISSION:12587
    SUBMISSION_NOTLS_AUTH:12588
    IMPLICIT:12465
    BAD_EXPIRED:12466
    BAD_WRONGHOST:12467
    BAD_UNTRUSTED:12468
    BAD_EXPIRED_STARTTLS:12476
    BAD_WRONGHOST_STARTTLS:12477
    BAD_UNTRUSTED_STARTTLS:12478
    CLIENTCERT:12489
    DEVICE_STARTTLS:12590
    DEVICE_RSA:12591
    DEVICE_RSA_IMPLICIT:12592
    DEVICE_NOCHAIN:12593
    DEVICE_EXPIRED:12594
    DEVICE_WRONGHOST:12595
    DEVICE_UNTRUSTED:12596
)
# Listeners that speak TLS from the first byte (wrapper mode).
WRAPPED=" IMPLICIT BAD_EXPIRED BAD_WRONGHOST BAD_UNTRUSTED DEVICE_RSA_IMPLICIT "
declare -A PORT
for l in "${LISTENERS[@]}"; do
    name=${l%%:*}
    var=POSTEL_POSTFIX_PORT_$name
    PORT[$name]=${!var:-${l#*:}}
    [[ ${PORT[$name]} =~ ^[0-9]+$ ]] || die "$var is not a port number"
done

# IPv6 loopback is optional (containers often lack it): PLAIN also listens on
# [::1] when it is there.
# POSTEL_POSTFIX_IPV6=0 forces IPv4 only.
HAVE_V6=0
if [[ ${POSTEL_POSTFIX_IPV6:-1} != 0 ]] && python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    HAVE_V6=1
fi

# ---------------------------------------------------------------------------
# PKI
# ---------------------------------------------------------------------------
"$HERE/pki.sh" "$PKI"
# Postfix reads keys as root before dropping privileges; keep them 0600.

# ---------------------------------------------------------------------------
# Directories
# ---------------------------------------------------------------------------
mkdir -p "$CONF/sasl" "$QUEUE" "$DATA" "$MAILBASE" "$LOGDIR" "$SASLDIR"
chown root:root "$CONF" "$CONF/sasl" "$QUEUE" "$LOGDIR"
chmod 0755 "$CONF" "$CONF/sasl" "$QUEUE" "$LOGDIR"
chown postfix:postfix "$DATA"
chmod 0700 "$DATA"
chown postfix:postfix "$MAILBASE"
chmod 0755 "$MAILBASE"
chown root:postfix "$SASLDIR"
chmod 0750 "$SASLDIR"

# ---------------------------------------------------------------------------
# main.cf (written to a temp file; compared with the live one below)
# ---------------------------------------------------------------------------
NEW=$(mktemp -d)
trap 'rm -rf "$NEW"' EXIT

if ((HAVE_V6)); then
    INET_PROTOCOLS=all
    MYNETWORKS="127.0.0.0/8 [::1]/128"
else
    INET_PROTOCOLS=ipv4
    MYNETWORKS="127.0.0.0/8"
fi

cat >"$NEW/main.cf" <<EOF
# Generated by scripts/postfix-up.sh: do not edit, re-run the script.
compatibility_level = 3.6
config_directory = $CONF
queue_directory = $QUEUE
data_directory = $DATA
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop

# No syslog here: log to a file through postlogd (see master.cf).
maillog_file = $LOGFILE
maillog_file_prefixes = $RUN
syslog_name = postel-postfix

myhostname = postel-test.localhost
mydomain = localhost
myorigin = \$myhostname
smtpd_banner = \$myhostname ESMTP Postel test Postfix
biff = no
append_dot_mydomain = no
readme_directory = no
inet_interfaces = loopback-only
inet_protocols = $INET_PROTOCOLS
mynetworks = $MYNETWORKS
smtputf8_enable = yes

# Deliver every accepted recipient to one Maildir; nothing leaves the machine.
mydestination =
local_recipient_maps =
relay_domains =
virtual_mailbox_domains = $DOMAIN, $UTF8_DOMAIN, $UTF8_DOMAIN_ACE
virtual_mailbox_base = $MAILBASE
virtual_mailbox_maps = static:catchall/
virtual_uid_maps = static:$PF_UID
virtual_gid_maps = static:$PF_GID
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
default_transport = error:outbound mail disabled in the Postel test instance
relay_transport = error:outbound mail disabled in the Postel test instance
message_size_limit = $SIZE_LIMIT
# Loopback SMTP clients would otherwise count as "local" and get their headers
# rewritten and Date:/Message-ID:/From: added; we want messages stored as sent.
local_header_rewrite_clients =
notify_classes =
soft_bounce = no

# Nobody may relay; chosen recipients are refused or tempfailed.
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:$CONF/recipient_access, reject_unauth_destination
smtpd_helo_required = no
smtpd_delay_reject = yes
# Don't slow the tests down after errors.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0

# TLS (server). Per-listener overrides live in master.cf.
smtpd_tls_chain_files = $PKI/server.key, $PKI/server-chain.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = no
smtpd_tls_session_cache_database =
tls_random_source = dev:/dev/urandom

# SASL (Cyrus, sasldb). Enabled per listener in master.cf.
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $CONF/sasl
smtpd_sasl_local_domain = $DOMAIN
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_sasl_authenticated_header = no
broken_sasl_auth_clients = no
EOF

cat >"$NEW/recipient_access" <<EOF
# Generated by scripts/postfix-up.sh
$REFUSED	550 5.1.1 No such user here (Postel test)
$TEMPFAIL	450 4.2.1 Mailbox busy, try again later (Postel test)
EOF

cat >"$NEW/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SASLDB
mech_list: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 SCRAM-SHA-1
log_level: 3
EOF

# ---------------------------------------------------------------------------
# master.cf: every service chroot=n. Listeners on explicit loopback addresses.
# ---------------------------------------------------------------------------
svc() { # name port [options...]
    local name=$1 port=$2 addr
    shift 2
    local addrs=(127.0.0.1)
    if [[ $name == PLAIN ]] && ((HAVE_V6)); then addrs+=("[::1]"); fi
    local lname
    lname=$(tr 'A-Z_' 'a-z-' <<<"$name")
    for addr in "${addrs[@]}"; do
        printf '%s:%s inet n - n - - smtpd\n' "$addr" "$port"
        printf '  -o syslog_name=postel-postfix/%s\n' "$lname"
        local o
        for o in "$@"; do printf '  -o %s\n' "$o"; done
    done
}
bad() { # name cert-basename wrappermode
    if [[ $3 == yes ]]; then
        svc "$1" "${PORT[$1]}" smtpd_tls_wrappermode=yes \
            "smtpd_tls_chain_files=$PKI/$2.key,$PKI/$2-chain.pem"
    else
        svc "$1" "${PORT[$1]}" smtpd_tls_security_level=encrypt \
            "smtpd_tls_chain_files=$PKI/$2.key,$PKI/$2-chain.pem"
    fi
}
# Listeners for the firmware (scripts/firmware-test.sh): each requires TLS and
# offers AUTH only inside it, so a client that went on after a bad certificate
# would be seen authenticating in the log. Nothing else uses them, so their log
# lines (syslog_name postel-postfix/device-...) belong to the firmware alone.
device() { # name key chain [wrapper]
    local tls=smtpd_tls_security_level=encrypt
    [[ ${4-} == wrapper ]] && tls=smtpd_tls_wrappermode=yes
    svc "$1" "${PORT[$1]}" "$tls" smtpd_sasl_auth_enable=yes smtpd_tls_auth_only=yes \
        "smtpd_tls_chain_files=$PKI/$2,$PKI/$3"
}
{
    echo "# Generated by scripts/postfix-up.sh: do not edit, re-run the script."
    echo "# service type  private unpriv  chroot  wakeup  maxproc command + args"
    svc PLAIN "${PORT[PLAIN]}"
    svc SUBMISSION "${PORT[SUBMISSION]}" \
        smtpd_tls_security_level=encrypt smtpd_sasl_auth_enable=yes smtpd_tls_auth_only=yes
    svc SUBMISSION_NOTLS_AUTH "${PORT[SUBMISSION_NOTLS_AUTH]}" \
        smtpd_tls_security_level=none smtpd_sasl_auth_enable=yes smtpd_tls_auth_only=no
    svc IMPLICIT "${PORT[IMPLICIT]}" \
        smtpd_tls_wrappermode=yes smtpd_sasl_auth_enable=yes
    bad BAD_EXPIRED expired yes
    bad BAD_WRONGHOST wronghost yes
    bad BAD_UNTRUSTED untrusted yes
    bad BAD_EXPIRED_STARTTLS expired no
    bad BAD_WRONGHOST_STARTTLS wronghost no
    bad BAD_UNTRUSTED_STARTTLS untrusted no
    svc CLIENTCERT "${PORT[CLIENTCERT]}" \
        smtpd_tls_security_level=encrypt smtpd_tls_ask_ccert=yes smtpd_tls_req_ccert=yes \
        "smtpd_tls_CAfile=$PKI/root.pem" smtpd_tls_ccert_verifydepth=5
    device DEVICE_STARTTLS server.key server-chain.pem
    device DEVICE_RSA rsa-server.key rsa-server-chain.pem
    device DEVICE_RSA_IMPLICIT rsa-server.key rsa-server-chain.pem wrapper
    device DEVICE_NOCHAIN server.key server.pem
    device DEVICE_EXPIRED expired.key expired-chain.pem
    device DEVICE_WRONGHOST wronghost.key wronghost-chain.pem
    device DEVICE_UNTRUSTED untrusted.key untrusted-chain.pem
    cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
} >"$NEW/master.cf"

# ---------------------------------------------------------------------------
# Install config; decide whether a (re)start is needed.
# ---------------------------------------------------------------------------
changed=0
for f in main.cf master.cf recipient_access; do
    if ! cmp -s "$NEW/$f" "$CONF/$f"; then
        install -m 0644 -o root -g root "$NEW/$f" "$CONF/$f"
        changed=1
    fi
done
if ! cmp -s "$NEW/smtpd.conf" "$CONF/sasl/smtpd.conf"; then
    install -m 0644 -o root -g root "$NEW/smtpd.conf" "$CONF/sasl/smtpd.conf"
    changed=1
fi

# SASL user database. saslpasswd2 stores the plaintext secret, which CRAM-MD5
# and SCRAM need. Recreate it when the password changes.
SASL_STAMP=$SASLDIR/.password
if [[ ! -s $SASLDB || ! -f $SASL_STAMP || $(cat "$SASL_STAMP") != "$SASL_PASSWORD" ]]; then
    rm -f "$SASLDB"
    out=$(printf '%s' "$SASL_PASSWORD" | saslpasswd2 -p -c -f "$SASLDB" -u "$DOMAIN" "$SASL_USER" 2>&1) ||
        die "saslpasswd2 failed: $out"
    printf '%s' "$SASL_PASSWORD" >"$SASL_STAMP"
    chmod 0600 "$SASL_STAMP"
    changed=1
fi
chown root:postfix "$SASLDB"
chmod 0640 "$SASLDB"

# The password as a file (no trailing newline), for clients that take --password-file.
PASSWORD_FILE=$STATE/password
if [[ ! -f $PASSWORD_FILE || $(cat "$PASSWORD_FILE") != "$SASL_PASSWORD" ]]; then
    printf '%s' "$SASL_PASSWORD" >"$PASSWORD_FILE.tmp"
    chmod 0600 "$PASSWORD_FILE.tmp"
    mv -f "$PASSWORD_FILE.tmp" "$PASSWORD_FILE"
fi

# Long-lived smtpd processes keep the certificates they loaded: restart when
# the PKI was regenerated.
pki_sum=$(cat "$PKI"/*.pem "$PKI"/*.key | sha256sum | cut -d' ' -f1)
if [[ ! -f $CONF/.pki-sum || $(cat "$CONF/.pki-sum") != "$pki_sum" ]]; then
    echo "$pki_sum" >"$CONF/.pki-sum"
    changed=1
fi

PF=(postfix -c "$CONF")

running=0
if "${PF[@]}" status >/dev/null 2>&1; then
    running=1
fi

if ((running && changed)); then
    "${PF[@]}" stop >/dev/null 2>&1 || true
    for _ in $(seq 50); do
        "${PF[@]}" status >/dev/null 2>&1 || break
        sleep 0.2
    done
    running=0
fi

# A master of this same instance whose config vanished (e.g. `rm -rf` of the
# state dir while it ran) still holds our ports and can't be stopped with
# `postfix stop`: find it by its working directory (= queue_directory) and end
# it by pid.
if ((!running)); then
    for d in /proc/[0-9]*; do
        [[ $(cat "$d/comm" 2>/dev/null) == master ]] || continue
        cwd=$(readlink "$d/cwd" 2>/dev/null) || continue
        [[ $cwd == "$QUEUE" || $cwd == "$QUEUE (deleted)" ]] || continue
        pid=${d#/proc/}
        log "stopping stale postfix master (pid $pid) of a previous run in $QUEUE"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            [[ $(awk '{print $3}' "$d/stat" 2>/dev/null) == Z ]] && break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "$d/stat" 2>/dev/null) != Z ]]; then
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
        fi
    done
fi

# Port conflicts with something that isn't us: fail early and clearly.
if ((!running)); then
    for name in "${!PORT[@]}"; do
        if python3 - "${PORT[$name]}" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.settimeout(0.5)
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
        then
            die "port ${PORT[$name]} ($name) is already in use on 127.0.0.1; stop whatever holds it or set POSTEL_POSTFIX_PORT_$name"
        fi
    done
fi

# `postfix check`: its exit status is authoritative, but it only prints its
# findings when stdout is a tty, so on failure re-run it under script(1).
if ! postfix -c "$CONF" check >/dev/null 2>&1; then
    script -qec "postfix -c $CONF check" /dev/null >&2 || true
    postfix -c "$CONF" check >&2 || true
    die "postfix check failed"
fi
# Warnings (e.g. a misspelt parameter) don't stop Postfix; show them loudly.
if command -v script >/dev/null; then
    warn=$(script -qec "postfix -c $CONF check" /dev/null 2>&1 | tr -d '\r' | sort -u) || true
    [[ -z $warn ]] || printf 'postfix-up: postfix check warnings:\n%s\n' "$warn" >&2
fi

log_tail() {
    echo "---- last lines of $LOGFILE ----" >&2
    tail -n 40 "$LOGFILE" >&2 2>/dev/null || echo "(no log file)" >&2
}

if ((!running)); then
    if ! start_out=$("${PF[@]}" start 2>&1); then
        printf '%s\n' "$start_out" >&2
        log_tail
        die "postfix start failed"
    fi
fi

# ---------------------------------------------------------------------------
# Wait until every listener answers 220 (through TLS for wrapper-mode ones).
# ---------------------------------------------------------------------------
probe_args=()
for l in "${LISTENERS[@]}"; do
    name=${l%%:*}
    tls=0
    [[ $WRAPPED == *" $name "* ]] && tls=1
    probe_args+=("$name" 127.0.0.1 "${PORT[$name]}" "$tls")
done
if ((HAVE_V6)); then probe_args+=(PLAIN6 ::1 "${PORT[PLAIN]}" 0); fi

if ! probe_out=$(python3 - "${probe_args[@]}" <<'EOF' 2>&1
import socket, ssl, sys, time
args = sys.argv[1:]
targets = [args[i:i + 4] for i in range(0, len(args), 4)]
deadline = time.monotonic() + 30
pending = list(targets)
last_err = {}
while pending and time.monotonic() < deadline:
    still = []
    for name, host, port, tls in pending:
        try:
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(fam)
            s.settimeout(5)
            s.connect((host, int(port)))
            if tls == "1":
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s, server_hostname="localhost")
            line = s.recv(512)
            s.close()
            if not line.startswith(b"220"):
                raise RuntimeError("greeting %r" % line)
        except Exception as e:  # noqa: BLE001
            last_err[name] = "%s:%s: %s" % (host, port, e)
            still.append((name, host, port, tls))
    pending = still
    if pending:
        time.sleep(0.2)
for name, host, port, tls in pending:
    print("listener %s not answering 220: %s" % (name, last_err.get(name)))
sys.exit(1 if pending else 0)
EOF
); then
    printf '%s\n' "$probe_out" >&2
    log_tail
    die "postfix did not come up"
fi

# ---------------------------------------------------------------------------
# env file for the tests
# ---------------------------------------------------------------------------
# Values are single-quoted (POSIX sh syntax) so the file is both sourceable and
# easy to parse: KEY='value'.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
    echo "# Generated by scripts/postfix-up.sh; source it: . $STATE/env"
    for l in "${LISTENERS[@]}"; do
        name=${l%%:*}
        echo "export POSTEL_POSTFIX_$name=127.0.0.1:${PORT[$name]}"
    done
    if ((HAVE_V6)); then
        echo "export POSTEL_POSTFIX_PLAIN6=[::1]:${PORT[PLAIN]}"
    fi
    echo "export POSTEL_POSTFIX_TLS_NAME=localhost"
    echo "export POSTEL_POSTFIX_MAILDIR=$(q "$MAILDIR")"
    echo "export POSTEL_POSTFIX_CA=$(q "$PKI/root.pem")"
    echo "export POSTEL_POSTFIX_INTERMEDIATE=$(q "$PKI/intermediate.pem")"
    echo "export POSTEL_POSTFIX_CLIENT_CERT=$(q "$PKI/client-chain.pem")"
    echo "export POSTEL_POSTFIX_CLIENT_KEY=$(q "$PKI/client.key")"
    echo "export POSTEL_POSTFIX_PKI=$(q "$PKI")"
    echo "export POSTEL_POSTFIX_RSA_CA=$(q "$PKI/rsa-root.pem")"
    echo "export POSTEL_POSTFIX_ANCHORS=$(q "$PKI/anchors.pem")"
    echo "export POSTEL_POSTFIX_PASSWORD_FILE=$(q "$PASSWORD_FILE")"
    echo "export POSTEL_POSTFIX_USER=$(q "$SASL_USER")"
    echo "export POSTEL_POSTFIX_PASSWORD=$(q "$SASL_PASSWORD")"
    echo "export POSTEL_POSTFIX_DOMAIN=$(q "$DOMAIN")"
    echo "export POSTEL_POSTFIX_UTF8_DOMAIN=$(q "$UTF8_DOMAIN")"
    echo "export POSTEL_POSTFIX_REFUSED=$(q "$REFUSED")"
    echo "export POSTEL_POSTFIX_TEMPFAIL=$(q "$TEMPFAIL")"
    echo "export POSTEL_POSTFIX_SIZE_LIMIT=$SIZE_LIMIT"
    echo "export POSTEL_POSTFIX_LOG=$(q "$LOGFILE")"
    echo "export POSTEL_POSTFIX_CONFIG_DIR=$(q "$CONF")"
} >"$STATE/env.tmp"
mv -f "$STATE/env.tmp" "$STATE/env"
