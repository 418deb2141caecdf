#!/usr/bin/env bash
# Start a private, loopback-only Exim 4 (Debian 12's exim4-daemon-light, 4.96) for
# Postel's real-server tests (crates/postel/tests/exim.rs).
#
#   scripts/exim-up.sh [STATE_DIR]      (default: $REPO/target/exim)
#
# Exim is not installed: its .deb files are fetched with `apt-get download` (once, cached
# in STATE_DIR/debs) and unpacked with `dpkg-deb -x` into STATE_DIR/root, because the
# exim4 packages conflict with postfix (both provide mail-transport-agent) and the Postfix
# tests need Postfix installed. See docs/testing-exim.md.
#
# Everything else (config, spool, log, Maildir, PKI) lives under STATE_DIR; nothing
# touches /etc/exim4, port 25 or syslog. Writes STATE_DIR/env with
# `export POSTEL_EXIM_*=...` lines; test code only reads those variables.
#
# Port overrides: POSTEL_EXIM_PORT_PLAIN (default 12625: STARTTLS offered) and
# POSTEL_EXIM_PORT_IMPLICIT (default 12626: TLS on connect).
# Idempotent: if the daemon runs with an identical config it is left alone, otherwise
# it is restarted.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${1:-${POSTEL_EXIM_STATE:-$REPO/target/exim}}

log() { printf 'exim-up: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (the daemon binds as root, then runs as Debian-exim)"
for b in apt-get dpkg-deb openssl python3 useradd; do
    command -v "$b" >/dev/null || die "$b not found"
done

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd -P)
[[ $STATE != *[[:space:]:\;]* ]] || die "state dir path must not contain spaces, ':' or ';': $STATE"

# ---------------------------------------------------------------------------
# The binary: exim4-daemon-light and the one library Debian 12's base system lacks
# (libidn12). Unpacked, never installed; the setuid bit is dropped (see below).
# ---------------------------------------------------------------------------
ROOT=$STATE/root
EXIM=$ROOT/usr/sbin/exim4
LIBDIR=$ROOT/usr/lib/x86_64-linux-gnu
DEBS=(exim4-daemon-light libidn12)
if [[ ! -x $EXIM || ! -f $ROOT/.complete ]]; then
    rm -rf "$ROOT" "$STATE/debs"
    mkdir -p "$STATE/debs" "$ROOT"
    out=$(mktemp)
    fetch() { (cd "$STATE/debs" && apt-get download "${DEBS[@]}") >"$out" 2>&1; }
    if ! fetch; then
        # A fresh container has no package lists yet.
        apt-get update -q >>"$out" 2>&1 || true
        fetch || { cat "$out" >&2; rm -f "$out"; die "apt-get download ${DEBS[*]} failed"; }
    fi
    rm -f "$out"
    for deb in "$STATE"/debs/*.deb; do
        dpkg-deb -x "$deb" "$ROOT" || die "dpkg-deb -x $deb failed"
    done
    # Started as root, the daemon drops to Debian-exim after binding its ports; its
    # children re-exec the binary to deliver. A setuid binary would run those with
    # AT_SECURE, where the loader ignores LD_LIBRARY_PATH (and so libidn.so.12); without
    # the bit they run as Debian-exim, which is also the delivery user.
    chmod u-s,g-s "$EXIM"
    missing=$(LD_LIBRARY_PATH=$LIBDIR ldd "$EXIM" | awk '/not found/ {print $1}')
    [[ -z $missing ]] || die "$EXIM needs libraries not in ${DEBS[*]}: $missing"
    dpkg-deb -f "$STATE"/debs/exim4-daemon-light_*.deb Version >"$ROOT/.complete"
fi
export LD_LIBRARY_PATH=$LIBDIR

# Debian's binary has EXIM_USER=Debian-exim compiled in and looks it up before reading
# any configuration: create the system user exim4-base's postinst would create.
if ! id Debian-exim >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin Debian-exim || die "cannot create user Debian-exim"
fi

# ---------------------------------------------------------------------------
# Where the instance lives: Debian-exim must reach the spool, log and Maildir. If
# STATE is not searchable by it, the instance lives under /tmp, STATE/run a symlink.
# ---------------------------------------------------------------------------
traversable() {
    local d=$1
    while [[ -n $d && $d != / ]]; do
        runuser -u Debian-exim -- test -x "$d" 2>/dev/null || return 1
        d=$(dirname "$d")
    done
}
RUN=$STATE/run
[[ -L $RUN ]] && rm -f "$RUN"
if ! traversable "$STATE"; then
    h=$(printf '%s' "$STATE" | sha1sum | cut -c1-10)
    ALT=/tmp/postel-exim-$h
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
SPOOL=$RUN/spool
LOGDIR=$RUN/log
MAILBASE=$RUN/mail
MAILDIR=$MAILBASE/catchall
PIDFILE=$RUN/exim.pid
PKI=$STATE/pki

DOMAIN=example.test
UTF8_DOMAIN=bücher.test
UTF8_DOMAIN_ACE=xn--bcher-kva.test
AUTH_USER=alice
AUTH_PASSWORD=${POSTEL_EXIM_PASSWORD:-correct-horse-battery-staple}
[[ $AUTH_PASSWORD =~ ^[A-Za-z0-9._-]+$ ]] || die "POSTEL_EXIM_PASSWORD: letters, digits, . _ - only"
REFUSED=refused@$DOMAIN
TEMPFAIL=tempfail@$DOMAIN
SIZE_LIMIT=1048576

PORT_PLAIN=${POSTEL_EXIM_PORT_PLAIN:-12625}
PORT_IMPLICIT=${POSTEL_EXIM_PORT_IMPLICIT:-12626}
for p in "$PORT_PLAIN" "$PORT_IMPLICIT"; do
    [[ $p =~ ^[0-9]+$ ]] || die "not a port number: $p"
done

"$HERE/pki.sh" "$PKI"

mkdir -p "$CONF" "$SPOOL" "$LOGDIR" "$MAILBASE"
chown root:root "$CONF"
chmod 0755 "$CONF"
chown Debian-exim:Debian-exim "$SPOOL" "$LOGDIR" "$MAILBASE"
chmod 0750 "$SPOOL"
chmod 0755 "$LOGDIR" "$MAILBASE"
# Each connection's process (Debian-exim) reads the key when a client starts TLS.
install -m 0644 -o root -g root "$PKI/server-chain.pem" "$CONF/server-chain.pem"
install -m 0600 -o Debian-exim -g Debian-exim "$PKI/server.key" "$CONF/server.key"

# ---------------------------------------------------------------------------
# The configuration (Exim reads it at every exec: owned by root, not writable by others).
# ---------------------------------------------------------------------------
NEW=$(mktemp)
trap 'rm -f "$NEW"' EXIT
cat >"$NEW" <<EOF
# Generated by scripts/exim-up.sh: do not edit, re-run the script.
exim_path = $EXIM
keep_environment = LD_LIBRARY_PATH
exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = $SPOOL
log_file_path = $LOGDIR/%slog
pid_file_path = $PIDFILE
log_selector = +smtp_protocol_error +smtp_syntax_error +pipelining +received_recipients \\
               +smtp_confirmation +tls_peerdn +smtp_connection +incoming_port

primary_hostname = postel-test.localhost
smtp_banner = \$smtp_active_hostname ESMTP Postel test Exim \$version_number
qualify_domain = $DOMAIN
domainlist local_domains = $DOMAIN : $UTF8_DOMAIN : $UTF8_DOMAIN_ACE

local_interfaces = 127.0.0.1
daemon_smtp_ports = $PORT_PLAIN : $PORT_IMPLICIT
tls_on_connect_ports = $PORT_IMPLICIT
# No reverse DNS and no ident (RFC 1413) lookups of the loopback client.
host_lookup =
rfc1413_hosts =
# Deliver at once (no queue runner is started).
queue_only = false
smtp_accept_max = 50

# The extensions under test.
pipelining_advertise_hosts = *
chunking_advertise_hosts = *
smtputf8_advertise_hosts = *
accept_8bitmime = true
dsn_advertise_hosts = *
message_size_limit = $SIZE_LIMIT
tls_advertise_hosts = *
tls_certificate = $CONF/server-chain.pem
tls_privatekey = $CONF/server.key
auth_advertise_hosts = *

acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data

begin acl

acl_check_rcpt:
  deny    recipients = $REFUSED
          message = 5.1.1 No such user here (Postel test)
  defer   recipients = $TEMPFAIL
          message = 4.2.1 Mailbox busy, try again later (Postel test)
  accept  domains = +local_domains
  deny    message = 5.7.1 Relaying denied (Postel test)

# A verdict on the content, given after the end of data (or BDAT LAST).
acl_check_data:
  deny    condition = \${if def:h_X-Postel-Reject:}
          message = 5.7.1 Content refused (Postel test)
  defer   condition = \${if def:h_X-Postel-Defer:}
          message = 4.3.0 Content deferred, try again later (Postel test)
  accept

begin routers

catchall:
  driver = accept
  domains = +local_domains
  transport = maildir_catchall

begin transports

# Every accepted recipient gets its own file in one Maildir, with CRLF line ends (as
# received on the wire) and no Return-path/Envelope-to/Delivery-date: only Exim's
# Received: is prepended.
maildir_catchall:
  driver = appendfile
  directory = $MAILDIR
  maildir_format
  create_directory
  directory_mode = 0755
  mode = 0644
  use_crlf
  user = Debian-exim
  group = Debian-exim

begin retry

*   *   F,1h,5m

begin authenticators

# PLAIN and LOGIN carry the password itself: offered only after STARTTLS (or on the
# implicit TLS port). CRAM-MD5 is offered in plaintext too, as many servers do.
PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{$AUTH_USER}}{eq{\$auth3}{$AUTH_PASSWORD}}}}
  server_set_id = \$auth2
  server_advertise_condition = \${if def:tls_in_cipher}

LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = \${if and {{eq{\$auth1}{$AUTH_USER}}{eq{\$auth2}{$AUTH_PASSWORD}}}}
  server_set_id = \$auth1
  server_advertise_condition = \${if def:tls_in_cipher}

CRAM_MD5:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = \${if eq{\$auth1}{$AUTH_USER}{$AUTH_PASSWORD}fail}
  server_set_id = \$auth1
EOF

EXIM_CONF=$CONF/exim.conf
changed=0
if ! cmp -s "$NEW" "$EXIM_CONF"; then
    install -m 0644 -o root -g root "$NEW" "$EXIM_CONF"
    changed=1
fi
pki_sum=$(cat "$PKI"/server-chain.pem "$PKI"/server.key | sha256sum | cut -d' ' -f1)
if [[ ! -f $CONF/.pki-sum || $(cat "$CONF/.pki-sum") != "$pki_sum" ]]; then
    echo "$pki_sum" >"$CONF/.pki-sum"
    changed=1
fi

# Syntax and option names are checked here, before anything is stopped.
if ! out=$("$EXIM" -C "$EXIM_CONF" -bV 2>&1); then
    printf '%s\n' "$out" >&2
    die "exim rejects $EXIM_CONF"
fi

# ---------------------------------------------------------------------------
# (Re)start. Only a process running our binary is ever signalled.
# ---------------------------------------------------------------------------
ours() { # pid: is it a daemon of this instance's binary?
    [[ -n $1 && -d /proc/$1 ]] || return 1
    [[ $(readlink "/proc/$1/exe" 2>/dev/null) == "$EXIM" ]]
}
pid=
[[ -f $PIDFILE ]] && pid=$(tr -dc 0-9 <"$PIDFILE")
running=0
ours "$pid" && running=1

if ((running && changed)); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do ours "$pid" || break; sleep 0.1; done
    ours "$pid" && { kill -KILL "$pid" 2>/dev/null || true; sleep 0.3; }
    running=0
fi

if ((!running)); then
    rm -f "$PIDFILE"
    for p in "$PORT_PLAIN" "$PORT_IMPLICIT"; do
        if python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$p"; then
            die "port $p is already in use on 127.0.0.1; stop whatever holds it or set POSTEL_EXIM_PORT_PLAIN / POSTEL_EXIM_PORT_IMPLICIT"
        fi
    done
    # -bd: the daemon detaches itself; -oP writes its pid.
    if ! out=$("$EXIM" -C "$EXIM_CONF" -bd -oP "$PIDFILE" 2>&1); then
        printf '%s\n' "$out" >&2
        tail -n 20 "$LOGDIR/paniclog" >&2 2>/dev/null || true
        die "exim -bd failed"
    fi
fi

# ---------------------------------------------------------------------------
# Wait until both ports answer 220 (through TLS on the implicit one).
# ---------------------------------------------------------------------------
if ! probe=$(python3 - "$PORT_PLAIN" "$PORT_IMPLICIT" <<'EOF' 2>&1
import socket, ssl, sys, time
plain, implicit = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 30
pending = {plain: False, implicit: True}
err = {}
while pending and time.monotonic() < deadline:
    for port, tls in list(pending.items()):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s, server_hostname="localhost")
            line = s.recv(512)
            s.sendall(b"QUIT\r\n")
            s.close()
            if not line.startswith(b"220"):
                raise RuntimeError("greeting %r" % line)
            del pending[port]
        except Exception as e:  # noqa: BLE001
            err[port] = str(e)
    if pending:
        time.sleep(0.2)
for port in pending:
    print("port %d not answering 220: %s" % (port, err.get(port)))
sys.exit(1 if pending else 0)
EOF
); then
    printf '%s\n' "$probe" >&2
    tail -n 20 "$LOGDIR/mainlog" "$LOGDIR/paniclog" >&2 2>/dev/null || true
    die "exim did not come up"
fi

# ---------------------------------------------------------------------------
# env file for the tests (KEY='value', sourceable).
# ---------------------------------------------------------------------------
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
    echo "# Generated by scripts/exim-up.sh; source it: . $STATE/env"
    echo "export POSTEL_EXIM_PLAIN=127.0.0.1:$PORT_PLAIN"
    echo "export POSTEL_EXIM_IMPLICIT=127.0.0.1:$PORT_IMPLICIT"
    echo "export POSTEL_EXIM_TLS_NAME=localhost"
    echo "export POSTEL_EXIM_VERSION=$(q "$(cat "$ROOT/.complete")")"
    echo "export POSTEL_EXIM_MAILDIR=$(q "$MAILDIR")"
    echo "export POSTEL_EXIM_CA=$(q "$PKI/root.pem")"
    echo "export POSTEL_EXIM_USER=$(q "$AUTH_USER")"
    echo "export POSTEL_EXIM_PASSWORD=$(q "$AUTH_PASSWORD")"
    echo "export POSTEL_EXIM_DOMAIN=$(q "$DOMAIN")"
    echo "export POSTEL_EXIM_UTF8_DOMAIN=$(q "$UTF8_DOMAIN")"
    echo "export POSTEL_EXIM_REFUSED=$(q "$REFUSED")"
    echo "export POSTEL_EXIM_TEMPFAIL=$(q "$TEMPFAIL")"
    echo "export POSTEL_EXIM_SIZE_LIMIT=$SIZE_LIMIT"
    echo "export POSTEL_EXIM_LOG=$(q "$LOGDIR/mainlog")"
    echo "export POSTEL_EXIM_CONFIG=$(q "$EXIM_CONF")"
} >"$STATE/env.tmp"
mv -f "$STATE/env.tmp" "$STATE/env"
