# Shared by the scripts in scripts/: sourced, never run.

# Installs Debian packages that are not installed yet (apt-get update first, once).
ensure_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing ${missing[*]} from Debian's packages" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Starts switchyard in the background with the environment given as NAME=VALUE arguments
# (PORT=0 picks a free port); sets STARTED_PID and STARTED_ADDR (host:port) once it listens.
start_switchyard() {
    local log
    log=$(mktemp)
    env RUST_LOG=info "$@" "$SWITCHYARD_BIN" >"$log" 2>&1 &
    STARTED_PID=$!
    for _ in $(seq 100); do
        STARTED_ADDR=$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$STARTED_ADDR" ] && return 0
        kill -0 "$STARTED_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "switchyard did not start:" >&2
    cat "$log" >&2
    return 1
}

# Prints a TCP port that nothing on this machine listens on (for programs that cannot be
# told to pick one themselves), below the kernel's ephemeral range: a port the system hands
# out for an outgoing connection (or Docker for a published port) cannot take it meanwhile.
free_port() {
    local port high
    high=$(awk '{ print $1 - 1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
    while :; do
        port=$((10000 + RANDOM % (high - 10000)))
        ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return; }
    done
}

# import_image TAG BINARY PATH [docker import options...]: a one-layer image holding BINARY at
# PATH, with the dynamic loader and every library it links, made without pulling anything. The
# image TAG named before, if any, is removed when nothing else uses it.
import_image() (
    set -euo pipefail
    local tag="$1" binary="$2" path="$3"
    shift 3
    local rootfs old
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    # readlink: the file itself, under the name given (redis-server is a link whose name
    # decides what the program does).
    install -D -m 0755 "$(readlink -f "$binary")" "$rootfs$path"
    for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
        install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
    done
    mkdir -p "$rootfs/tmp" "$rootfs/etc"
    chmod 1777 "$rootfs/tmp"
    # IMPORT_FILES="local:/in/image ...": more files, writable (a sentinel rewrites its own),
    # programs kept executable.
    local pair mode
    for pair in ${IMPORT_FILES:-}; do
        mode=0644
        [ -x "${pair%%:*}" ] && mode=0755
        install -D -m "$mode" "$(readlink -f "${pair%%:*}")" "$rootfs${pair#*:}"
    done
    echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    tar -C "$rootfs" --owner=0 --group=0 -c . | docker import "$@" - "$tag" >/dev/null
    if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$tag")" ]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
)
