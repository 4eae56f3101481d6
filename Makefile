# SPDX-License-Identifier: GPL-2.0
#
# zonemm, an out-of-tree Rust kernel module.
#
#   make                 build zonemm.ko into out/build/KERNEL/ (against
#                        KDIR, or the kernel KERNEL names, set up on first
#                        use)
#   make test            set up, build, run every test; ends with
#                        "N passed, N failed"
#   make test KERNEL=debian-7.3    the same on another kernel: ref (the
#                        default), debug, debian-7.3, debian-7.2 (also for
#                        make, make run, make shell)
#   make test-debug      make test KERNEL=debug (KASAN/lockdep/kmemleak)
#   make run             boot the guest with zonemm loaded and show it
#   make bench           zonemm against the kernel, in one guest run:
#                        out/bench.json, out/bench.md, out/bench.png
#   make fuzz            the core's parsers and properties on generated
#                        input, over a million cases, a fresh seed
#   make mutants         mutation testing of the core (cargo-mutants)
#   make KDIR=/path/to/linux    build against your own 7.2/7.3 tree,
#                        with its own compiler
#
# Kbuild (not this file) lists the module's objects.

# KERNEL, KDIR, LLVM, RUSTC and BINDGEN given on the command line reach the
# scripts through the environment.

all: module

module:
	scripts/build-module

test:
	scripts/test

test-debug:
	KERNEL=debug scripts/test

run:
	scripts/run

bench:
	scripts/bench

stress:
	scripts/stress

fuzz:
	scripts/fuzz

mutants:
	scripts/mutants

htmldocs:
	scripts/htmldocs

rust-analyzer:
	scripts/build-module rust-analyzer

shell:
	scripts/shell

clean:
	scripts/build-module clean
	rm -rf out rust/core/target rust/core-bench/target
	rm -f rust-project.json samples/*/rust-project.json

.PHONY: all module test test-debug run bench stress fuzz mutants htmldocs rust-analyzer shell clean
