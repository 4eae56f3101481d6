#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-file: zonemm_hostile_region.ko
# The regions' hostile client (testing/hostile/zonemm_hostile_region.c)
# while the merger scans at full speed: addresses that never move, writes
# that never reach another sharer, regions freed while scanned, stale
# handles; the kernel reports nothing and every view is back when it goes.
# Then 100 rounds of allocate, fill, merge and free leave the kernel's
# kmalloc caches as they were, and zonemm unloads with the scanner running.
. /zonemm/lib.sh
plan 16
M=$D/merge
R=$D/region

views() {
	settle
	cat $D/buddy/buddyinfo $R/list
}
succeeded() { phase_succeeded zonemm_hostile_region "$1"; }
no_check_failed() { dmesg | grep -q 'zonemm_hostile_region: [0-9]* checks, 0 failed$'; }
shared_seen() {
	n=$(dmesg | sed -n 's/.*zonemm_hostile_region: merged: shared \([0-9]*\)$/\1/p' | tail -n 1)
	echo "# two regions' read mappings at one shared page: ${n:-none}"
	[ "${n:-0}" -gt 0 ]
}
# kmalloc_objs: active objects of the kernel's kmalloc caches, after a
# kmem_cache_shrink() of each (which also empties KASAN's quarantine of
# them on the debug kernel: freed objects wait there, counted as active).
kmalloc_objs() {
	for f in /sys/kernel/slab/kmalloc-*/shrink; do echo 1 >"$f" 2>/dev/null; done
	awk '/^kmalloc-/ { n += $2 } END { print n }' /proc/slabinfo
}

echo 1000 >$M/pages_to_scan
echo 0 >$M/sleep_millisecs
echo 1 >$M/run
before=$(views)
dmesg -c >/dev/null
check "insmod zonemm_hostile_region" insmod /zonemm/zonemm_hostile_region.ko
check "  no check failed" no_check_failed
for p in addresses merged scan-free stale map-free; do
	check "  $p: calls succeeded" succeeded $p
done
check "  the merger shared pages under the readers" shared_seen
check "  no kernel report" no_kernel_report
check "  rmmod zonemm_hostile_region" rmmod zonemm_hostile_region
check "  every view is back" test "$(views)" = "$before"

# 100 rounds: two equal mergeable regions, merged, then freed.
sharing() { [ "$(cat $M/pages_sharing)" -ge 8 ]; }
k0=$(kmalloc_objs)
merged=0
round=0	# not i: wait_for counts in i
while [ $round -lt 100 ]; do
	echo '32K mergeable' >$R/alloc
	echo '32K mergeable' >$R/alloc
	set -- $(cut -d' ' -f1 $R/list)
	echo "$1 0x6b" >$R/fill
	echo "$2 0x6b" >$R/fill
	wait_for sharing && merged=$((merged + 1))
	echo all >$R/free
	round=$((round + 1))
done
k1=$(kmalloc_objs)
echo "# kmalloc objects: $k0 before, $k1 after 100 rounds; $merged rounds merged"
check "100 rounds merged" test "$merged" -eq 100
check "  the kernel's kmalloc objects as before (within 256)" test "$k1" -le $((k0 + 256))
check "  no kernel report" no_kernel_report

# Unload while the scanner runs over regions.
for n in 1 2 3 4; do echo '64K mergeable zero' >$R/alloc; done
sleep 0.5
check "rmmod zonemm with the scanner running" rmmod zonemm
check "every CMA page back" wait_for cma_back
finish
