# SPDX-License-Identifier: GPL-2.0
# Shared settings for zonemm's scripts: sourced, never run.
#
# Everything built or fetched lives in $ZONEMM_CACHE, outside the
# repository, so that fresh clones on the same machine reuse it.

ZONEMM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZONEMM_CACHE=${ZONEMM_CACHE:-$HOME/.cache/zonemm}
ZONEMM_OUT=${ZONEMM_OUT:-$ZONEMM_ROOT/out}

# The kernel: the Debian package version we pin, and the series we accept
# when the archive has moved on.
KERNEL_SERIES=7.3
KERNEL_PKG_VERSION=7.3.4-1~bpo13+1
BINDGEN_VERSION=0.72.1
LLVM_SUFFIX=-19

TOOLS_DIR=$ZONEMM_CACHE/tools
BINDGEN_TOOL=$TOOLS_DIR/bin/bindgen
SRC_DIR=$ZONEMM_CACHE/src/linux-source-$KERNEL_SERIES
FRAGMENT=$ZONEMM_ROOT/qemu/zonemm.config
# ZONEMM_KERNEL=debug: the reference fragment plus qemu/debug.config, as one
# file (so the debug kernel has its own cache key).
if [ "${ZONEMM_KERNEL:-}" = debug ]; then
	mkdir -p "$ZONEMM_CACHE"
	cat "$FRAGMENT" "$ZONEMM_ROOT/qemu/debug.config" >"$ZONEMM_CACHE/debug-kernel.config"
	FRAGMENT=$ZONEMM_CACHE/debug-kernel.config
fi

# Toolchain flags for every make of the kernel or the module; LLVM, RUSTC
# and BINDGEN from the environment win (for building against your kernel).
KMAKE_FLAGS=(LLVM="${LLVM:-$LLVM_SUFFIX}" RUSTC="${RUSTC:-/usr/bin/rustc}"
	BINDGEN="${BINDGEN:-$BINDGEN_TOOL}")
export LIBCLANG_PATH=/usr/lib/llvm-19/lib

# The reference kernel's build directory, keyed by source version and
# config fragment, so that a change of either builds a new one.
kernel_build_dir() {
	local ver hash
	ver=$(cat "$SRC_DIR/.zonemm-version" 2>/dev/null || echo none)
	hash=$(cat "$FRAGMENT" "$ZONEMM_ROOT/scripts/build-kernel" | sha256sum | cut -c1-12)
	echo "$ZONEMM_CACHE/kernel/$ver-$hash"
}

# rustup's cargo (for bindgen-cli and the host tests) may not be on PATH
# in a non-login shell.
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
	PATH=$HOME/.cargo/bin:$PATH
fi

# build_tools: what the guest runs besides zonemm (out/tools/): the static
# user-space helpers, and the client modules built with zonemm (samples,
# benchmark, hostile client).
build_tools() {
	mkdir -p "$ZONEMM_OUT/tools"
	local t
	for t in zonemm-bench zonemm-write; do
		gcc -static -O2 -Wall -Werror -o "$ZONEMM_OUT/tools/$t" "$ZONEMM_ROOT/tools/$t.c"
	done
	cp "$ZONEMM_ROOT"/samples/*/zonemm_sample_*.ko "$ZONEMM_ROOT/testing/bench/zonemm_bench.ko" \
		"$ZONEMM_ROOT"/testing/hostile/zonemm_hostile*.ko \
		"$ZONEMM_OUT/tools/"
}

step() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
