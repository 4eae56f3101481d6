# SPDX-License-Identifier: GPL-2.0
#
# zonemm, an out-of-tree Rust kernel module.
#
#   make                 build zonemm.ko (against KDIR, or the cached
#                        reference kernel, set up on first use)
#   make test            set up, build, run every test; ends with
#                        "N passed, N failed"
#   make test-debug      the same on a KASAN/lockdep/kmemleak kernel
#   make run             boot the guest with zonemm loaded and show it
#   make bench           zonemm against the kernel, in one guest run:
#                        out/bench.json, out/bench.md, out/bench.png
#   make fuzz            the core's parsers and properties on generated
#                        input, over a million cases, a fresh seed
#   make mutants         mutation testing of the core (cargo-mutants)
#   make KDIR=/path/to/linux LLVM=1    build against your own 7.3 tree
#
# Kbuild (not this file) lists the module's objects.

# KDIR, LLVM, RUSTC and BINDGEN given on the command line reach the
# scripts through the environment.

all: module

module:
	scripts/build-module

test:
	scripts/test

test-debug:
	ZONEMM_KERNEL=debug scripts/test

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
