# SPDX-License-Identifier: GPL-2.0
# Shared settings for zonemm's scripts: sourced, never run.
#
# Everything built or fetched lives in $ZONEMM_CACHE, outside the
# repository, so that fresh clones on the same machine reuse it.

step() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ZONEMM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZONEMM_CACHE=${ZONEMM_CACHE:-$HOME/.cache/zonemm}
ZONEMM_OUT=${ZONEMM_OUT:-$ZONEMM_ROOT/out}
export ZONEMM_ROOT ZONEMM_CACHE ZONEMM_OUT

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

# The kernel to build for and boot (make test KERNEL=...):
#   ref         the reference kernel, built here (the default)
#   debug       the reference kernel plus qemu/debug.config (KASAN, ...)
#   debian-7.3  Debian's stock Rust-enabled kernels from trixie-backports,
#   debian-7.2  booted unmodified (scripts/debian-kernel)
# KDIR=/path/to/tree (a kernel tree of your own) names the target "kdir".
# ZONEMM_KERNEL=debug is the older spelling of KERNEL=debug.
if [ -n "${KDIR:-}" ]; then
	[ "${KERNEL:-kdir}" = kdir ] ||
		die "KDIR=$KDIR and KERNEL=$KERNEL both given: KDIR is a kernel tree of your own, KERNEL one of ours; give one"
	KERNEL=kdir
else
	KERNEL=${KERNEL:-${ZONEMM_KERNEL:-ref}}
fi
case "$KERNEL" in
ref | debug | kdir) ;;
debian-7.3)
	DEBIAN_PKG_VERSION=7.3.4-1~bpo13+1
	DEBIAN_RELEASE=7.3.4+deb13-amd64
	;;
debian-7.2)
	DEBIAN_PKG_VERSION=7.2.12-1~bpo13+1
	DEBIAN_RELEASE=7.2.12+deb13-amd64
	;;
*) die "unknown KERNEL=$KERNEL (one of: ref, debug, debian-7.3, debian-7.2)" ;;
esac
export KERNEL
# Where the modules built for this kernel go (never over another kernel's).
MODULE_DIR=$ZONEMM_OUT/build/$KERNEL

# The Debian targets: a trixie root with the toolchain Debian builds its
# kernels with (shared by all of them), and per package version the
# downloaded packages (debs/, unpacked in pkg/), the kernel source when the
# reference one is another version (src/), and the prepared tree (tree/).
DEBIAN_CHROOT=$ZONEMM_CACHE/debian/chroot-trixie
if [ -n "${DEBIAN_PKG_VERSION:-}" ]; then
	DEBIAN_SERIES=${KERNEL#debian-}
	DEBIAN_DIR=$ZONEMM_CACHE/debian/$DEBIAN_PKG_VERSION
	DEBIAN_HEADERS=$DEBIAN_DIR/pkg/usr/src/linux-headers-$DEBIAN_RELEASE
	DEBIAN_IMAGE=$DEBIAN_DIR/pkg/usr/lib/modules/$DEBIAN_RELEASE/vmlinuz
	DEBIAN_TREE=$DEBIAN_DIR/tree
fi

# ZONEMM_KERNEL=debug: the reference fragment plus qemu/debug.config, as one
# file (so the debug kernel has its own cache key).
if [ "$KERNEL" = debug ]; then
	mkdir -p "$ZONEMM_CACHE"
	cat "$FRAGMENT" "$ZONEMM_ROOT/qemu/debug.config" >"$ZONEMM_CACHE/debug-kernel.config"
	FRAGMENT=$ZONEMM_CACHE/debug-kernel.config
fi

# Toolchain flags for every make of the kernel or the module; LLVM, RUSTC
# and BINDGEN from the environment win (for building against your kernel).
# REF_KMAKE_FLAGS are the reference kernel's, whatever the target.
REF_KMAKE_FLAGS=(LLVM="${LLVM:-$LLVM_SUFFIX}" RUSTC="${RUSTC:-/usr/bin/rustc}"
	BINDGEN="${BINDGEN:-$BINDGEN_TOOL}")
KMAKE_FLAGS=("${REF_KMAKE_FLAGS[@]}")
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
if [ -n "${DEBIAN_PKG_VERSION:-}" ]; then
	# Debian's compiler, rustc and bindgen, inside the chroot, and Debian's
	# release string (its .config has no LOCALVERSION for it).
	KMAKE_FLAGS=(CC=x86_64-linux-gnu-gcc-14 HOSTCC=x86_64-linux-gnu-gcc-14
		RUSTC=rustc BINDGEN=bindgen KERNELRELEASE="$DEBIAN_RELEASE")
elif [ "$KERNEL" = kdir ] && [ -f "$KDIR/.config" ]; then
	# Your tree, with its own compiler: LLVM for a clang-built tree, else
	# the gcc its .config names (when this machine has it).
	if grep -qx 'CONFIG_CC_IS_CLANG=y' "$KDIR/.config"; then
		KMAKE_FLAGS=(LLVM="${LLVM:-$LLVM_SUFFIX}")
	else
		KMAKE_FLAGS=()
		[ -n "${LLVM:-}" ] && KMAKE_FLAGS+=(LLVM="$LLVM")
		kdir_cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$KDIR/.config")
		if [ -z "${LLVM:-}" ] && [ -n "${CC:-}" ]; then
			KMAKE_FLAGS+=(CC="$CC" HOSTCC="${HOSTCC:-$CC}")
		elif [ -z "${LLVM:-}" ] && [ -n "$kdir_cc" ]; then
			# build-module says so if this machine lacks it.
			KMAKE_FLAGS+=(CC="$kdir_cc" HOSTCC="$kdir_cc")
		fi
	fi
	KMAKE_FLAGS+=(RUSTC="${RUSTC:-/usr/bin/rustc}" BINDGEN="${BINDGEN:-$BINDGEN_TOOL}")
fi

# in_debian_chroot CMD...: run CMD in the trixie root, in a mount namespace
# of its own (so the bind mounts go when it ends) where the cache, the
# repository and out/ are at the same paths as on the host.
in_debian_chroot() {
	[ "$(id -u)" -eq 0 ] || die "the Debian targets need root (chroot, mount namespaces)"
	unshare --mount --propagation private -- /bin/bash -c '
		set -e
		ch=$1
		shift
		for d in "$ZONEMM_CACHE" "$ZONEMM_ROOT" "$ZONEMM_OUT"; do
			mkdir -p "$d" "$ch$d"
			mount --bind "$d" "$ch$d"
		done
		mount -t proc proc "$ch/proc"
		mount --bind /dev "$ch/dev"
		exec chroot "$ch" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 TERM=dumb "$@"' \
		in_debian_chroot "$DEBIAN_CHROOT" "$@"
}

# kbuild ARGS...: make with the target kernel's toolchain (inside the
# chroot for a Debian kernel).
kbuild() {
	if [ -n "${DEBIAN_PKG_VERSION:-}" ]; then
		in_debian_chroot make "${KMAKE_FLAGS[@]}" "$@"
	else
		make "${KMAKE_FLAGS[@]}" "$@"
	fi
}

# kernel_tree: the built kernel tree to build against (set up first when
# it is ours: the reference or debug kernel, or a Debian one).
kernel_tree() {
	case "$KERNEL" in
	kdir) echo "$KDIR" ;;
	debian-*)
		if [ -f "$DEBIAN_TREE/.zonemm-done" ]; then
			echo "$DEBIAN_TREE"
		else
			"$ZONEMM_ROOT/scripts/debian-kernel"
		fi
		;;
	*) "$ZONEMM_ROOT/scripts/build-kernel" ;;
	esac
}

# kernel_tree_verbose: kernel_tree, telling as it goes: a reference or
# debug kernel not built yet prints its build's progress (a line each
# half minute: the stage, objects compiled of about 1100, time so far).
kernel_tree_verbose() {
	local build pid out rc=0
	case "$KERNEL" in
	ref | debug) build=$(kernel_build_dir) ;;
	*)
		kernel_tree
		return
		;;
	esac
	if [ -f "$build/.zonemm-done" ]; then
		echo "$build"
		return
	fi
	out=$(mktemp)
	"$ZONEMM_ROOT/scripts/build-kernel" >"$out" &
	pid=$!
	local start=$SECONDS last=0 n stage
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		[ $((SECONDS - last)) -ge 30 ] || continue
		last=$SECONDS
		if [ ! -f "$build/.config" ]; then
			stage=configuring
		elif [ ! -f "$build/vmlinux.o" ]; then
			stage=compiling
		elif [ ! -f "$build/arch/x86/boot/bzImage" ]; then
			stage="linking vmlinux and bzImage"
		else
			stage="building modules"
		fi
		n=$(find "$build" -name '*.o' 2>/dev/null | wc -l)
		printf '    kernel build: %s, %d of about 1100 objects, %d:%02d so far (log: %s)\n' \
			"$stage" "$n" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$build/build.log" >&2
	done
	wait "$pid" || rc=$?
	cat "$out"
	rm -f "$out"
	return "$rc"
}

# kernel_image TREE: the image to boot (Debian's own, unmodified vmlinuz).
kernel_image() {
	if [ -n "${DEBIAN_PKG_VERSION:-}" ]; then
		echo "$DEBIAN_IMAGE"
	else
		echo "$1/arch/x86/boot/bzImage"
	fi
}

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

# build_tools: what the guest runs besides zonemm ($TOOLS_OUT, one per
# kernel): the static user-space helpers, and the client modules built
# with zonemm (samples, benchmark, hostile client).
TOOLS_OUT=$MODULE_DIR/tools
build_tools() {
	mkdir -p "$TOOLS_OUT"
	local t
	for t in zonemm-bench zonemm-write zonemm-mem zonemm-hog; do
		gcc -static -O2 -Wall -Werror -I"$ZONEMM_ROOT/include/uapi" \
			-o "$TOOLS_OUT/$t" "$ZONEMM_ROOT/tools/$t.c" || return
	done
	cp "$MODULE_DIR"/samples/*/zonemm_sample_*.ko "$MODULE_DIR/testing/bench/zonemm_bench.ko" \
		"$MODULE_DIR"/testing/hostile/zonemm_hostile*.ko \
		"$TOOLS_OUT/"
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
