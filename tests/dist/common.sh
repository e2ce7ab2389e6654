# tests/dist/common.sh — what the mpirun tests share (sourced): skip without MPI, a work folder
# with synthetic data, the launcher line.
set -euo pipefail
if ! command -v mpirun > /dev/null; then
    echo "SKIP: mpirun not found (Debian package openmpi-bin)"
    exit 77
fi
# Read whole first: `grep -q` leaving a pipe early would fail it under pipefail (SIGPIPE).
LH_VERSION_TEXT=$("$LHOST" --version)
if ! grep -q '^MPI: Open MPI\|^MPI: MPICH\|^MPI: .*MPI' <<< "$LH_VERSION_TEXT"; then
    echo "SKIP: this lhost was built without MPI ($(grep MPI <<< "$LH_VERSION_TEXT"))"
    exit 77
fi
WORK=$(mktemp -d /tmp/lhost_dist_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# mpirun -np N lhost ARGS... in the current folder; one thread per rank.
mpi() {
    local np=$1
    shift
    timeout 300 mpirun --allow-run-as-root --oversubscribe -np "$np" \
        -x LHOST_DATA_CACHE=0 "$LHOST" "$@"
}
fail() {
    echo "FAIL: $*"
    exit 1
}
# The logged value `key` a checkpoint holds, as its metadata writes it (%.17g).
logged() {
    "$LHOST" ckpt inspect --verbose "$1" | grep -o "\"key\":\"$2\",\"value\":\"[^\"]*\"" |
        sed 's/.*"value":"\([^"]*\)"/\1/'
}
# |a - b| <= tol * |b|
close() {
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d;
        m = b < 0 ? -b : b; exit !(d <= t * m) }'
}
