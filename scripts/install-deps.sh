#!/usr/bin/env bash
# Install the system packages needed by the real-server (Postfix, aiosmtpd) tests.
#
# Idempotent: does nothing (no apt at all) when everything is already there.
# Quiet on success; on failure prints the apt output.
# Never leaves Debian's default Postfix instance (port 25) running: we run our
# own private instance, see scripts/postfix-up.sh.
set -euo pipefail

PKGS=(postfix sasl2-bin libsasl2-modules libsasl2-modules-db swaks libnet-ssleay-perl libio-socket-ssl-perl openssl python3 ca-certificates)
# postel-cli's end-to-end tests drive `postel sendmail` from `git send-email` (crates/cli/tests/git_send_email.rs).
PKGS+=(git-email)
# A second, independent real server: aiosmtpd, for Debian's /usr/bin/python3
# (crates/postel/tests/aiosmtpd.rs, crates/cli/tests/aiosmtpd.rs).
PKGS+=(python3-aiosmtpd)
# The microcontroller build and run (docs/embedded.md): Debian's Rust 1.96 with its std
# sources for -Zbuild-std (the host build stays on rustup's stable), QEMU's Cortex-M
# boards, and the ARM binutils for the firmware's sizes.
PKGS+=(rustc-web cargo-web rust-web-src qemu-system-arm binutils-arm-none-eabi)
# The chaos test (scripts/chaos.sh): network namespaces, tc qdiscs, `ss -K` resets.
PKGS+=(iproute2)
# DKIM (crates/cli/tests/dkim.rs): dkimpy verifies signatures (python3-dnspython comes with
# it, for scripts/dkim-dns.py); Exim's verifier is the unpacked exim4-daemon-light of
# scripts/exim-up.sh, run by scripts/dkim-exim.sh.
PKGS+=(python3-dkim)
# The sim web bench's page in a real browser (crates/cli/tests/sim_web_browser.rs):
# headless Chromium driven over WebDriver.
PKGS+=(chromium chromium-driver)
# The benchmark's cold-submission section runs msmtp beside swaks (crates/bench, scripts/bench.sh).
PKGS+=(msmtp)
# The queue on PostgreSQL (docs/queue-postgres.md): a private PostgreSQL 15 cluster of
# scripts/postgres-up.sh for crates/*/tests/queue_pg*.rs and scripts/queue-pg-chaos.sh.
PKGS+=(postgresql-15)

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
else
    SUDO=
fi

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $st == ii* ]] || missing+=("$p")
done

# The SASL mechanisms we rely on are plugins of libsasl2-modules (SCRAM is in
# there too on Debian 12), sasldb comes from libsasl2-modules-db.
for so in libplain.so liblogin.so libcrammd5.so libscram.so libsasldb.so; do
    if ! compgen -G "/usr/lib/*/sasl2/$so" >/dev/null; then
        [[ " ${missing[*]-} " == *" libsasl2-modules "* ]] || missing+=(libsasl2-modules libsasl2-modules-db)
        break
    fi
done

stop_default_postfix() {
    # Debian's packaged instance uses /etc/postfix. With "No configuration" it
    # has no main.cf and won't start, but be defensive: some other step (or a
    # previous manual setup) might have configured and started it.
    if [[ -x /usr/sbin/postfix && -f /etc/postfix/main.cf ]]; then
        if $SUDO /usr/sbin/postfix -c /etc/postfix status >/dev/null 2>&1; then
            log "stopping Debian's default postfix instance (port 25)"
            $SUDO /usr/sbin/postfix -c /etc/postfix stop >/dev/null 2>&1 || true
        fi
    fi
}

if ((${#missing[@]} == 0)); then
    stop_default_postfix
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q)
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run_apt() {
    # Retry a few times: another apt/dpkg might hold the lists lock briefly
    # (DPkg::Lock::Timeout covers the dpkg lock, not always the lists lock).
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" "$@" >"$out" 2>&1; then
            return 0
        fi
        if grep -qiE 'lock|temporarily unavailable|Could not get' "$out"; then
            sleep 6
            continue
        fi
        break
    done
    cat "$out" >&2
    die "apt-get $* failed"
}

echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections

run_apt update
run_apt install --no-install-recommends "${missing[@]}"

stop_default_postfix

for b in /usr/sbin/postfix /usr/sbin/saslpasswd2 /usr/bin/openssl /usr/bin/swaks; do
    [[ -x $b ]] || die "$b missing after install"
done
