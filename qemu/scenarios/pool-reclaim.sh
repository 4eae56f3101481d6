#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-params: pool_mb=16 node_mb=4
# The pool's reclaim: a zonemm_kswapd thread per node with pages; freed
# region mappings kept for reuse go back to any pool user that runs
# short: to kswapd when allocations that may not sleep (GFP_NOWAIT,
# GFP_ATOMIC) wake it, to direct reclaim (or kswapd) for GFP_KERNEL; so do
# a slab cache's empty slabs; the counters say who took what; unload with
# everything back.
. /zonemm/lib.sh
plan 32
B=$D/buddy
R=$D/region

bstat() { awk -v k="$1" '$1 == k { print $2 }' $B/stats; }
rstat() { awk -v k="$1" '$1 == k { print $2 }' $R/stats; }
views() { cat $B/buddyinfo $R/stats; }
# fill_cache: regions of several size classes allocated, then freed: their
# mappings are kept. Prints the pages kept.
fill_cache() {
	for s in 1M 512K 256K 64K 16K 4K 1M 128K; do echo "$s" >$R/alloc || return 1; done
	for id in $(cut -d' ' -f1 $R/list); do echo "$id" >$R/free || return 1; done
	rstat cached_pages
}
# exhaust GFP: order-0 blocks of GFP (kernel, atomic, nowait) until the
# pool gives no more, 64 at a time, then one at a time. Prints the count.
exhaust() {
	n=0
	while echo "order=0 count=64 gfp=$1" >$B/alloc 2>/dev/null; do n=$((n + 64)); done
	while echo "order=0 gfp=$1" >$B/alloc 2>/dev/null; do n=$((n + 1)); done
	echo $n
}
# dry GFP: exhaust GFP, then again each time kswapd has run, until a round
# gets nothing (allocations that may not sleep fail while kswapd is still
# giving pages back; the next ones get them). Each kswapd run stops at the
# high watermark, so emptying the cache takes several rounds; a round
# ends when every kswapd sleeps again. Prints the total count.
dry() {
	total=0
	round=0
	while [ "$round" -lt 64 ]; do
		round=$((round + 1))
		got=$(exhaust "$1")
		total=$((total + got))
		wait_for asleep
		[ "$got" -eq 0 ] && break
	done
	echo "# $1: $round rounds" >&2
	echo $total
}
cache_empty() { [ "$(rstat cached_pages)" -eq 0 ] && [ "$(bstat reclaimable)" -eq 0 ]; }
# asleep: every kswapd sleeping (state S).
asleep() {
	for p in $(ps -o pid,comm | awk '$2 ~ /^zonemm_kswapd/ { print $1 }'); do
		[ "$(cut -d' ' -f3 /proc/$p/stat)" = S ] || return 1
	done
}
# settled: kswapd done (asleep, nothing kept), so the counts hold still.
settled() { wait_for cache_empty && wait_for asleep; }
# kept_back: the most an allocation without reserves leaves free once it
# fails: each zone's min watermark plus its largest lowmem reserve, and a
# page of slack (zoneinfo).
kept_back() {
	awk '$1 == "min" { s += $2 + 1 }
		$1 == "protection:" { gsub(/[(),]/, " "); m = 0
			for (i = 2; i <= NF; i++) if ($i > m) m = $i; s += m }
		END { print s }' $B/zoneinfo
}
# on_lists: pages on the zones' free lists, what the watermark checks
# count (pages on the per-CPU lists are not counted, and an allocation
# that may not reclaim does not drain other CPUs' lists for them).
on_lists() {
	awk '{ p = 1; for (i = 5; i <= NF; i++) { s += $i * p; p *= 2 } } END { print s }' $B/buddyinfo
}
# free_pages: every free page: the per-CPU lists drained first.
free_pages() {
	echo 1 >$B/drain
	on_lists
}

nodes=$(awk '{ print $2 }' $B/buddyinfo | sort -u | wc -l)
threads=$(ps -o comm | grep -c '^zonemm_kswapd[0-9]*$')
echo "# nodes with pages: $nodes, kswapd threads: $threads"
check "a zonemm_kswapd thread per node with pages" test "$threads" -eq "$nodes" -a "$nodes" -ge 1

kept=$(fill_cache)
echo "# kept: ${kept:-none} pages"
check "freed regions' mappings are kept" test "${kept:-0}" -gt 256
check "  and counted reclaimable" test "$(bstat reclaimable)" = "$kept"

# Allocations that may not sleep: kswapd, woken below the low watermark,
# gives the kept mappings back while they go on.
wakeups=$(bstat kswapd_wakeups)
dmesg -c >/dev/null
free=$(free_pages)
n=$(dry nowait)
check "GFP_NOWAIT woke kswapd" test "$(bstat kswapd_wakeups)" -gt "$wakeups"
check "  which took every kept page back" settled
listed=$(on_lists)
left=$(free_pages)
bound=$(kept_back)
echo "# GFP_NOWAIT blocks: $n, free pages before: $free, after: $left ($listed on the free lists, at most $bound)"
check "  counted as pgsteal_kswapd" test "$(bstat pgsteal_kswapd)" -ge "$kept"
check "  and cache_shrunk" test "$(rstat cache_shrunk)" -ge "$kept"
check "  GFP_NOWAIT got them: blocks = free before + kept - free after" test "$n" -eq $((free + kept - left))
check "  and left no more on the free lists than the watermarks keep" test "$listed" -le "$bound"
# Nothing left to reclaim: a stream of failing allocations wakes each
# node's kswapd at most MAX_RECLAIM_RETRIES (16) times more before it is
# left asleep (each node counts its own failures), plus the wakes that
# came during a run. The bound is 20 per node: CI saw 18 on Debian 7.2,
# and Debian 7.3 once let 8 of 20 further allocations wake it after 80
# (runs that do not count as failures: open, see the issue note).
runs=$(bstat pageoutrun)
for i in $(seq 40); do echo "order=0 gfp=nowait" >$B/alloc 2>/dev/null; done
settled
echo "# kswapd runs for 40 failing GFP_NOWAIT allocations: $(($(bstat pageoutrun) - runs))"
check "hopeless kswapd stops being woken" test $(($(bstat pageoutrun) - runs)) -le $((20 * nodes))
check "nothing reported" no_kernel_report
echo all >$B/free
settle

# GFP_ATOMIC likewise.
kept=$(fill_cache)
free=$(free_pages)
n=$(dry atomic)
check "GFP_ATOMIC: every kept page taken back" settled
listed=$(on_lists)
left=$(free_pages)
echo "# kept: $kept pages, GFP_ATOMIC blocks: $n, free pages before: $free, after: $left ($listed on the free lists)"
check "  GFP_ATOMIC got them" test "$n" -eq $((free + kept - left)) -a "$listed" -le "$(kept_back)"
echo all >$B/free
settle

# GFP_KERNEL: reclaims itself before it fails (kswapd may be first).
kept=$(fill_cache)
before=$(($(bstat pgsteal_direct) + $(bstat pgsteal_kswapd)))
free=$(free_pages)
n=$(exhaust kernel)
settled
listed=$(on_lists)
left=$(free_pages)
after=$(($(bstat pgsteal_direct) + $(bstat pgsteal_kswapd)))
echo "# kept: $kept pages, GFP_KERNEL blocks: $n; allocstall $(bstat allocstall)," \
	"pgsteal_direct $(bstat pgsteal_direct), pgsteal_kswapd $(bstat pgsteal_kswapd)"
check "GFP_KERNEL: nothing kept once it fails" cache_empty
check "  every kept page counted as reclaimed" test $((after - before)) -ge "$kept"
check "  GFP_KERNEL got them" test "$n" -eq $((free + kept - left)) -a "$listed" -le "$(kept_back)"
echo all >$B/free
settle

# A slab cache's empty slabs: objects allocated, then freed, leave them
# free; kswapd, woken by allocations that may not sleep, retires them and
# frees them after an RCU grace period, so the allocations get them.
S=$D/slab
sstat() { awk -v k="$1" '$1 == k { print $2 }' $S/idle/stats; }
# slabinfo 2.1: ... : slabdata <active_slabs> <num_slabs> <sharedavail>
slabs() { awk '$1 == "idle" { print $15 }' $S/slabinfo; }
echo "idle 1024" >$S/create
echo count=2048 >$S/idle/alloc
echo all >$S/idle/free
idle=$(bstat reclaimable)
before=$(slabs)
echo "# empty slabs: $idle pages reclaimable, of $before slabs"
check "a cache's empty slabs are counted reclaimable" test "${idle:-0}" -ge 256
free=$(free_pages)
n=$(dry nowait)
check "GFP_NOWAIT: kswapd gave the empty slabs back" settled
left=$(free_pages)
echo "# $(sstat slabs_reaped) slabs reaped, $(slabs) left; GFP_NOWAIT blocks: $n, free before: $free, after: $left"
check "  slabs_reaped counts them" test "$(sstat slabs_reaped)" -ge $((before - $(slabs))) -a "$(slabs)" -lt "$before"
# Every slab goes: the flush of the CPU caches after the first grace
# period frees the slabs the cached objects kept, and the next scan takes
# them.
per=$(awk '$1 == "idle" { print $6 }' $S/slabinfo)
check "  GFP_NOWAIT got them" test "$n" -eq $((free + $(sstat slabs_reaped) * per - left))
echo all >$B/free
settle

# GFP_KERNEL: direct reclaim retires the empty slabs and waits for
# kswapd's RCU work to free them, so one pass gets them (no rounds);
# kswapd, woken at the low watermark, may take them all first.
echo count=2048 >$S/idle/alloc
echo all >$S/idle/free
reaped=$(sstat slabs_reaped)
before=$(slabs)
stall=$(bstat allocstall)
free=$(free_pages)
n=$(exhaust kernel)
settled
left=$(free_pages)
reaped=$(($(sstat slabs_reaped) - reaped))
echo "# GFP_KERNEL: $reaped of $before slabs reaped; blocks: $n, free before: $free, after: $left;" \
	"allocstall $(($(bstat allocstall) - stall))"
check "GFP_KERNEL: the empty slabs given back" test "$reaped" -gt 0
check "  GFP_KERNEL got them in one pass" test "$n" -eq $((free + reaped * per - left)) -a "$left" -le "$(kept_back)"
echo all >$B/free
settle
echo idle >$S/destroy

# Balanced again, every kswapd sleeps (and is not spinning).
check "every kswapd asleep once the pool is balanced" wait_for asleep
runs=$(bstat pageoutrun)
sleep 1
check "  and stays asleep" test "$(bstat pageoutrun)" -eq "$runs"

refuses $B alloc "order=0 gfp=sleepy" "gfp must be kernel, atomic or nowait"
check "nothing reported" no_kernel_report

# rmmod while allocations keep waking kswapd and it gives mappings back:
# the threads stop, every page comes back, nothing is reported.
fill_cache >/dev/null
dmesg -c >/dev/null
(while echo "order=0 count=16 gfp=nowait" >$B/alloc; do :; done
	while [ -e $B/alloc ]; do echo "order=0 gfp=nowait" >$B/alloc; done) 2>/dev/null &
sleep 0.3
check "rmmod while kswapd reclaims" wait_for rmmod zonemm
wait
check "  no kswapd thread left" wait_for sh -c "! ps -o comm | grep -q '^zonemm_kswapd'"
check "  every CMA page back" wait_for cma_back
check "  nothing reported" no_kernel_report
finish
