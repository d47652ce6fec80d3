#!/usr/bin/env bash
# Build a release `ftr` for x86_64 that runs on RHEL7 (glibc 2.17, Linux 3.10)
# and everything newer.
#
# Usage: scripts/build-release.sh
#   stdout: the path of the built binary (one line); progress goes to stderr.
#   exit status: non-zero if tools cannot be installed, the build fails, or
#   the binary needs a glibc newer than 2.17.
#
# Methods (FTR_RELEASE_LIBC):
#   glibc (default)  cargo-zigbuild with zig as the linker, against glibc 2.17's
#                    symbol versions: `cargo zigbuild --target
#                    x86_64-unknown-linux-gnu.2.17`. A normal dynamic binary
#                    (glibc malloc, NSS for user names). Both tools come from
#                    PyPI and are installed, pinned, into <target>/release-tools
#                    with `pip install --target`: no root, no venv, and no
#                    clash with a distro's externally managed Python.
#   musl             a static binary from rustup's x86_64-unknown-linux-musl
#                    target (installed with rustup if missing). Needs no zig.
#   If the glibc tools cannot be installed (no PyPI), the script falls back to
#   musl and says so.
#
# Environment:
#   FTR_RELEASE_LIBC        glibc | musl (default glibc)
#   FTR_RELEASE_TARGET_DIR  cargo target dir of the release build (default:
#                           ${CARGO_TARGET_DIR:-<repo>/target}/release-glibc217
#                           or .../release-musl), kept apart from the debug
#                           build so the two never wait on each other's lock.
#   PYTHON                  the Python used to install the tools (python3).
set -euo pipefail

ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.0
GLIBC_TARGET=x86_64-unknown-linux-gnu
GLIBC_VERSION=2.17
MUSL_TARGET=x86_64-unknown-linux-musl

say() { printf 'build-release: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target_base=${CARGO_TARGET_DIR:-$repo/target}
case $target_base in /*) ;; *) target_base=$repo/$target_base ;; esac
tools=$target_base/release-tools
python=${PYTHON:-python3}
libc=${FTR_RELEASE_LIBC:-glibc}

# Puts cargo-zigbuild and zig on PATH, installing them into $tools if needed.
# Returns non-zero if that is impossible.
setup_zig() {
    local stamp=$tools/.installed-$ZIGLANG_VERSION-$CARGO_ZIGBUILD_VERSION
    if [[ ! -e $stamp ]]; then
        command -v "$python" >/dev/null || { say "no $python to install ziglang and cargo-zigbuild"; return 1; }
        say "installing ziglang==$ZIGLANG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION into $tools"
        rm -rf "$tools"
        mkdir -p "$tools"
        PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
            --target "$tools" "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" >&2 \
            || { say "pip install failed"; return 1; }
        # The ziglang wheel ships the zig binary as package data; put it on
        # PATH so cargo-zigbuild does not depend on which python3 it finds.
        ln -sf ../ziglang/zig "$tools/bin/zig"
        touch "$stamp"
    fi
    export PATH=$tools/bin:$PATH
    cargo-zigbuild --version >/dev/null 2>&1 && zig version >/dev/null 2>&1 \
        || { say "the tools in $tools do not run"; return 1; }
}

build_glibc() {
    local dir=${FTR_RELEASE_TARGET_DIR:-$target_base/release-glibc217}
    say "building ftr for $GLIBC_TARGET with glibc $GLIBC_VERSION symbols (zig $(zig version)) in $dir"
    (cd "$repo" && CARGO_TARGET_DIR=$dir cargo zigbuild --release \
        --target "$GLIBC_TARGET.$GLIBC_VERSION" --package ftr --bin ftr >&2) \
        || die "cargo zigbuild failed"
    bin=$dir/$GLIBC_TARGET/release/ftr
}

build_musl() {
    local dir=${FTR_RELEASE_TARGET_DIR:-$target_base/release-musl}
    if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"; then
        say "adding rustup target $MUSL_TARGET"
        rustup target add "$MUSL_TARGET" >&2 || die "rustup target add $MUSL_TARGET failed"
    fi
    say "building a static ftr for $MUSL_TARGET in $dir"
    (cd "$repo" && CARGO_TARGET_DIR=$dir cargo build --release \
        --target "$MUSL_TARGET" --package ftr --bin ftr >&2) \
        || die "cargo build failed"
    bin=$dir/$MUSL_TARGET/release/ftr
}

# Prints the highest GLIBC_x.y[.z] version the binary requires (empty if none).
max_glibc() {
    readelf --version-info --wide "$1" | { grep -o 'GLIBC_[0-9][0-9.]*' || true; } \
        | sed 's/^GLIBC_//' | sort -uV | tail -n 1
}

start=$SECONDS
case $libc in
    glibc)
        if setup_zig; then
            build_glibc
        else
            say "cannot set up cargo-zigbuild; falling back to a static musl build"
            build_musl
        fi
        ;;
    musl) build_musl ;;
    *) die "FTR_RELEASE_LIBC must be glibc or musl, not '$libc'" ;;
esac

[[ -x $bin ]] || die "no binary at $bin"
if command -v readelf >/dev/null; then
    max=$(max_glibc "$bin") || die "readelf could not read $bin"
    if [[ -z $max ]]; then
        say "needs no versioned glibc symbols (static)"
    else
        say "highest glibc symbol version required: GLIBC_$max"
        [[ $(printf '%s\n%s\n' "$max" "$GLIBC_VERSION" | sort -V | tail -n 1) == "$GLIBC_VERSION" ]] \
            || die "$bin needs GLIBC_$max, newer than $GLIBC_VERSION"
    fi
fi
say "done in $((SECONDS - start))s"
printf '%s\n' "$bin"
