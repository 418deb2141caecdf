#!/usr/bin/env bash
# Build the Cortex-M firmware (firmware/) with a session's settings compiled in, run it under
# QEMU's mps2-an385 with its UART bridged to an SMTP server, and report its sizes.
#
#   scripts/firmware.sh --server 127.0.0.1:PORT --tls starttls|implicit|none --ca-file PEM \
#       --tls-name NAME --user USER --password-file FILE --from ADDR --to ADDR [--count N]
#
# Exits 0 only when the server accepted every message (the firmware's semihosting exit
# status), 124 when the run timed out, 2 on a usage or build error. Its last three lines are
# the ELF's flash (.vector_table+.text+.rodata) and static RAM (.data+.bss) in bytes and the
# stack high-water mark the firmware measured.
#
# Each message goes over a new TCP connection: QEMU's socket chardev reconnects
# (reconnect=1, in seconds) after the server closes the previous one.
#
# Environment: POSTEL_FW_TIMEOUT (seconds for the whole QEMU run; default 60 + 30 per
# message), POSTEL_FW_EHLO (the EHLO name; default device.example.test),
# POSTEL_FW_QUIET=1 (the firmware's console goes to the log file only),
# POSTEL_FW_STEP_TIMEOUT_MS (every SMTP step's timeout, instead of RFC 5321's minutes: for
# tarpit tests).
# Builds only with Debian's compiler (rustc-web, cargo-web, rust-web-src), which it installs
# when missing, along with qemu-system-arm and binutils-arm-none-eabi.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
FW=$REPO/firmware

log() { printf 'firmware.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }
usage() {
    sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,3\}//' >&2
    exit 2
}

timeout_s=${POSTEL_FW_TIMEOUT:-}
ehlo=${POSTEL_FW_EHLO:-device.example.test}
quiet=${POSTEL_FW_QUIET:-0}
step_timeout_ms=${POSTEL_FW_STEP_TIMEOUT_MS:-}

server= tls= ca_file= tls_name= user= password_file= from= to= count=1
while (($#)); do
    case $1 in
    --server | --tls | --ca-file | --tls-name | --user | --password-file | --from | --to | --count)
        (($# >= 2)) || die "$1 needs a value"
        case $1 in
        --server) server=$2 ;;
        --tls) tls=$2 ;;
        --ca-file) ca_file=$2 ;;
        --tls-name) tls_name=$2 ;;
        --user) user=$2 ;;
        --password-file) password_file=$2 ;;
        --from) from=$2 ;;
        --to) to=$2 ;;
        --count) count=$2 ;;
        esac
        shift 2
        ;;
    -h | --help) usage ;;
    *) die "unknown argument: $1" ;;
    esac
done

for opt in server tls ca_file tls_name user password_file from to; do
    [[ -n ${!opt} ]] || die "--${opt//_/-} is required"
done
case $tls in starttls | implicit | none) ;; *) die "--tls must be starttls, implicit or none" ;; esac
[[ $count =~ ^[1-9][0-9]*$ ]] || die "--count must be a positive number"
[[ -r $ca_file ]] || die "--ca-file $ca_file is not readable"
[[ -r $password_file ]] || die "--password-file $password_file is not readable"
# build.rs runs in firmware/: hand it absolute paths.
ca_file=$(realpath -- "$ca_file")
password_file=$(realpath -- "$password_file")
if [[ $server =~ ^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$ || $server =~ ^([^:]+):([0-9]+)$ ]]; then
    host=${BASH_REMATCH[1]}
    port=${BASH_REMATCH[2]}
else
    die "--server must be HOST:PORT or [IPv6]:PORT"
fi

# ---------------------------------------------------------------------------
# Packages (quiet and apt-free when everything is there).
# ---------------------------------------------------------------------------
PKGS=(rustc-web cargo-web rust-web-src qemu-system-arm binutils-arm-none-eabi)
missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $st == ii* ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    SUDO=
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    apt_log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    APT=(-o DPkg::Lock::Timeout=600 -y -q)
    if ! { $SUDO apt-get "${APT[@]}" install --no-install-recommends "${missing[@]}" ||
        { $SUDO apt-get "${APT[@]}" update && $SUDO apt-get "${APT[@]}" install --no-install-recommends "${missing[@]}"; }; } >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        rm -f "$apt_log"
        die "apt-get install ${missing[*]} failed"
    fi
    rm -f "$apt_log"
fi

# ---------------------------------------------------------------------------
# Build. An outer cargo (e.g. `cargo test` running this script) exports its own settings;
# none of them may leak into this build (CARGO_HOME stays: it is where the registry is).
# ---------------------------------------------------------------------------
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(CARGO|RUSTC|RUSTDOC|RUSTFLAGS|RUSTDOCFLAGS|RUSTUP_TOOLCHAIN|POSTEL_FW_)' | grep -vx CARGO_HOME || true)
export CARGO_TARGET_DIR=$FW/target
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1

export POSTEL_FW_TLS=$tls
export POSTEL_FW_TLS_NAME=$tls_name
export POSTEL_FW_CA_FILE=$ca_file
export POSTEL_FW_USER=$user
export POSTEL_FW_PASSWORD_FILE=$password_file
export POSTEL_FW_FROM=$from
export POSTEL_FW_TO=$to
export POSTEL_FW_COUNT=$count
POSTEL_FW_UNIX_TIME=$(date +%s)
export POSTEL_FW_UNIX_TIME
POSTEL_FW_SEED=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export POSTEL_FW_SEED
export POSTEL_FW_EHLO=$ehlo
[[ -z $step_timeout_ms ]] || export POSTEL_FW_STEP_TIMEOUT_MS=$step_timeout_ms

# Runs may overlap (several checks at once) and share firmware/target: each builds and copies
# its ELF under a lock, then runs and measures its own copy.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$CARGO_TARGET_DIR"
exec 9>"$CARGO_TARGET_DIR/.firmware-sh.lock"
flock 9
features=()
[[ $tls == none ]] || features=(--features tls)
if ! (cd "$FW" && /usr/bin/cargo build --release --target thumbv7m-none-eabi -Zbuild-std=core "${features[@]}") >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    die "the firmware did not build"
fi
[[ -f $CARGO_TARGET_DIR/thumbv7m-none-eabi/release/postel-firmware ]] || die "no ELF in $CARGO_TARGET_DIR"
ELF=$work/postel-firmware.elf
cp "$CARGO_TARGET_DIR/thumbv7m-none-eabi/release/postel-firmware" "$ELF"
flock -u 9
exec 9>&-

# ---------------------------------------------------------------------------
# Run. The UART is a TCP client of the server; after each session QEMU reconnects.
# ---------------------------------------------------------------------------
timeout_s=${timeout_s:-$((60 + 30 * count))}
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "POSTEL_FW_TIMEOUT must be a positive number of seconds"
run_log=$work/run.log
chardev="socket,id=smtp,host=$host,port=$port,reconnect=1,nodelay=on"
set +e
if [[ $quiet == 1 ]]; then
    timeout --kill-after=5 "$timeout_s" qemu-system-arm -M mps2-an385 -nographic -monitor none \
        -semihosting-config enable=on,target=native \
        -chardev "$chardev" -serial chardev:smtp -kernel "$ELF" </dev/null >"$run_log" 2>&1
    status=$?
else
    timeout --kill-after=5 "$timeout_s" qemu-system-arm -M mps2-an385 -nographic -monitor none \
        -semihosting-config enable=on,target=native \
        -chardev "$chardev" -serial chardev:smtp -kernel "$ELF" </dev/null 2>&1 | tee "$run_log"
    status=${PIPESTATUS[0]}
fi
set -e
if ((status == 124 || status == 137)); then
    log "QEMU did not finish within ${timeout_s}s"
    status=124
fi

# ---------------------------------------------------------------------------
# Sizes (last lines).
# ---------------------------------------------------------------------------
sizes=$(arm-none-eabi-size -A "$ELF")
section() { awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' <<<"$sizes"; }
flash=$(($(section .vector_table) + $(section .text) + $(section .rodata)))
ram=$(($(section .data) + $(section .bss)))
hwm=$(sed -n 's/^stack high-water mark: \([0-9]*\) bytes.*/\1/p' "$run_log" | tail -n 1)
echo "flash: $flash bytes (.vector_table+.text+.rodata)"
echo "static RAM: $ram bytes (.data+.bss)"
echo "stack high-water mark: ${hwm:-unknown} bytes"
exit "$status"
