#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench's guest side. zonemm_bench.ko, a client of zonemm's API, times
# every layer against the kernel's allocators; tools/zonemm-bench times
# zonemm's merger and the kernel's KSM the same way from user space and
# runs the fragmentation workload on both; source/metadata is read at two
# pool sizes. "quick" on the command line (zonemm.bench=quick) makes it
# all tiny. Every line is key=value, for scripts/bench-report.
. /zonemm/lib.sh
B=/sys/kernel/debug/zonemm_bench

mode=$(sed -n 's/.*zonemm.bench=\([a-z]*\).*/\1/p' /proc/cmdline)
run="all" pages=1024 reps=5 percent=50 fault_pages=16384 burst_runs=5
[ "$mode" = quick ] && run="quick all" pages=16 reps=2 percent=10 fault_pages=256 burst_runs=1

insmod /zonemm/zonemm_bench.ko || exit 1
# Fragmentation first, on zones no benchmark case has churned yet.
/zonemm/zonemm-bench frag "$percent" || exit 1
echo "$run" >$B/run || exit 1
cat $B/results
/zonemm/zonemm-bench merge "$pages" "$reps" || exit 1
# User memory: /dev/zonemm pages merged against KSM's anonymous pages, and
# first-touch faults of 64 MiB against anonymous memory.
/zonemm/zonemm-bench umerge "$pages" "$reps" || exit 1
/zonemm/zonemm-bench fault "$fault_pages" "$reps" || exit 1
# Compaction: pages migrated per second, zonemm's compact against the
# kernel's compact_memory, after the same workload.
/zonemm/zonemm-bench compact $((pages * 4)) || exit 1
rmmod zonemm_bench || exit 1

# metadata POOL_MB: source/metadata as one line.
metadata() {
	awk -v mb="$1" -v nmb="$2" 'BEGIN { printf "layer=memory pool_mb=%s node_mb=%s", mb, nmb }
		{ printf " %s=%s", $1, $2 } END { print "" }' $D/source/metadata
}
metadata "$(sed -n 's/.*pool_mb=\([0-9]*\).*/\1/p' /zonemm/params)" \
	"$(sed -n 's/.*node_mb=\([0-9]*\).*/\1/p' /zonemm/params)"
rmmod zonemm || exit 1
insmod /zonemm/zonemm.ko pool_mb=16 || exit 1
metadata 16 16
rmmod zonemm || exit 1
# Compaction to pageblocks on a fresh pool (nothing else in it).
insmod /zonemm/zonemm.ko pool_mb=48 node_mb=48 || exit 1
/zonemm/zonemm-bench compact9 || exit 1
rmmod zonemm
# The elastic pool: bursts of twice the starting size (pool_burst, in
# lib.sh), GFP_KERNEL; no allocation may fail, and the pool must be back
# at its starting size within 10 s of each burst's end.
insmod /zonemm/zonemm.ko pool_mb=16 node_mb=4 max_pool_mb=64 || exit 1
pool_burst "$burst_runs"
rmmod zonemm
