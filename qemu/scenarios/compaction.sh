#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-params: pool_mb=16 node_mb=4
# zonemm-file: zonemm-bench
# Compaction (buddy/compact, mm/compaction.c's scanners): a fragmentation
# workload of one-page mergeable regions (movable) with a few unmovable
# buddy/alloc blocks among them, every other region freed; one
# `echo all > buddy/compact` then leaves nearly every free page on the
# movable lists in pageblock-sized blocks (what the unmovable pages do
# not pin), unusable_index at order 9 drops to what they force, every
# region still holds its bytes; bad knob values are refused; make bench's
# compaction row runs first (its numbers are not judged here); rmmod while
# compactions keep running returns every page.
. /zonemm/lib.sh
plan 24
B=$D/buddy
R=$D/region
stat() { awk -v k="$1" '$1 == k { print $2 }' $B/stats; }
# free_pages: free pages of every zone, from buddyinfo.
free_pages() { awk '{ p = 1; for (o = 0; o < 11; o++) { s += $(5 + o) * p; p *= 2 } } END { print s }' $B/buddyinfo; }
# order9: the largest unusable_index at order 9 over the zones with at
# least two pageblocks free, in thousandths.
order9() {
	awk 'NR == FNR { f = 0; p = 1; for (o = 0; o < 11; o++) { f += $(5 + o) * p; p *= 2 }; big[$2 $4] = f >= 1024; next }
	     big[$2 $4] { v = $14; sub(/\./, "", v); v += 0; if (v > m) m = v } END { print m + 0 }' \
		$B/buddyinfo $D/extfrag/unusable_index
}
dmesg -c >/dev/null

# make bench's compaction row, on the pool as loaded, with two pageblocks'
# worth of pages: with fewer, all of them may come from the zone's top
# pageblock, where the free scanner starts, and zonemm's pass (as the
# kernel's would) rightly moves none.
out=$(/zonemm/zonemm-bench compact 1024)
echo "$out" | sed 's/^/# /'
check "make bench's compaction row: both sides, zonemm's migrating" \
	sh -c "echo '$out' | grep -q '^layer=compact side=kernel ' && echo '$out' | grep -Eq '^layer=compact side=zonemm pages=1024 migrated=[1-9]'"

# The workload: one-page mergeable regions over 90% of the free pages,
# and 4 unmovable pages after every 64 regions.
n=$(($(free_pages) * 9 / 10))
i=0
while [ $i -lt $n ]; do
	echo '4K mergeable' >$R/alloc 2>/dev/null || break
	i=$((i + 1))
	[ $((i % 64)) -eq 0 ] && echo 'order=0 count=4 type=unmovable' >$B/alloc
done
echo "# $i one-page mergeable regions, $(grep -ci unmovable $B/allocations) unmovable pages"
ids=$(awk '/ mergeable -$/ { print $1 }' $R/list)
check "the regions were made" test "$(echo "$ids" | wc -l)" -ge $((n / 2))
for id in $ids; do echo "$id $(printf '0x%02x' $((id % 251 + 1)))" >$R/fill; done
k=0
kept=
for id in $ids; do
	k=$((k + 1))
	if [ $((k % 2)) -eq 0 ]; then echo "$id" >$R/free; else kept="$kept $id"; fi
done
settle
before=$(order9)
echo "# unusable_index at order 9 before: $before"
check "fragmented: order 9 mostly unusable" test "$before" -ge 900
cat $B/pagetypeinfo | sed 's/^/# before: /'
cat $B/buddyinfo | sed 's/^/# before: /'

migrated=$(stat pgmigrate_success)
check "echo all > buddy/compact" sh -c "echo all > $B/compact"
cat $B/buddyinfo | sed 's/^/# after: /'
after=$(order9)
echo "# unusable_index at order 9 after: $after"
check "pages were migrated" test "$(stat pgmigrate_success)" -gt "$migrated"
check "  and counted as the kernel names them" sh -c "for c in compact_migrate_scanned compact_free_scanned compact_isolated; do [ \$(awk -v k=\$c '\$1 == k { print \$2 }' $B/stats) -gt 0 ] || exit 1; done"
# What the unmovable pages leave possible, per zone: the free pages on
# the movable lists in whole pageblocks, less two pageblocks (the
# scanners' meeting point, and the top one partly filled); of those, 90%
# or more must be free as blocks of order 9 or 10.
blocks_ok() {
	awk 'NR == FNR { if ($6 == "Movable") { m = 0; p = 1; for (o = 0; o < 11; o++) { m += $(7 + o) * p; p *= 2 }; mov[$2 $4] = m }; next }
	     { z = $2 $4 ","; big = $14 * 512 + $15 * 1024; p = int(mov[z] / 512) - 2;
	       printf "# node %s zone %s: %d pages in free blocks of order 9+, %d pageblocks possible\n", $2, $4, big, p
	       if (p > 0 && big * 10 < p * 512 * 9) bad = 1 } END { exit bad }' \
		$B/pagetypeinfo $B/buddyinfo
}
check "90% of the possible order-9 blocks are free" blocks_ok
check "unusable_index at order 9 came down" test "$after" -lt "$before"
bad_contents=0
for id in $kept; do
	echo "$id $(printf '0x%02x' $((id % 251 + 1)))" >$R/check 2>/dev/null || bad_contents=$((bad_contents + 1))
done
check "every region holds its bytes (region/check)" test "$bad_contents" -eq 0
check "the free lists are sound" sh -c "! dmesg | grep -q 'refused to free'"

views() { cat $B/extfrag_threshold $B/buddyinfo; }
refuses $B compact 'bogus' 'write .all. or the id of a node'
refuses $B compact '4096' 'write .all. or the id of a node'
refuses $B extfrag_threshold '1001' 'a number from 0 to 1000'
check "extfrag_threshold is the kernel's 500" test "$(cat $B/extfrag_threshold)" = 500
check "no kernel report" no_kernel_report

# Fragment again, then rmmod while compactions keep running: removing the
# debugfs files waits for a write in flight, unregistering the regions as
# movable owner waits for a run; then every page is back.
k=0
for id in $kept; do
	k=$((k + 1))
	[ $((k % 2)) -eq 0 ] && echo "$id" >$R/free
done
scanned=$(stat compact_migrate_scanned)
(while echo all >$B/compact 2>/dev/null; do :; done) &
loop=$!
running() { [ "$(stat compact_migrate_scanned)" -gt "$scanned" ]; }
check "compactions running" wait_for running
tries=0
until rmmod zonemm 2>/dev/null; do
	tries=$((tries + 1))
	[ $tries -ge 100 ] && break
	sleep 0.1
done
wait $loop
echo "# rmmod after $tries refusals"
check "rmmod while compacting" test ! -e /sys/module/zonemm
check "every CMA page back" cma_back
finish

