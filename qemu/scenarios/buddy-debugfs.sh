#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# buddy/: an alloc write changes buddyinfo exactly as the split arithmetic
# predicts, 'free all' restores it, and every malformed write gets EINVAL,
# a one-line reason, and changes no view.
. /zonemm/lib.sh
plan 81
B=$D/buddy

# split LINE ORDER: the buddyinfo line after taking one block of ORDER
# from the smallest order that has one (expand(): one more free block at
# each order from ORDER up to below the one split).
split() {
	echo "$1" | awk -v want="$2" '{
		for (o = want; o <= 10 && $(5 + o) == 0; o++) ;
		$(5 + o)--
		for (i = want; i < o; i++) $(5 + i)++
		printf "Node %s zone %8s ", $2, $4
		for (i = 0; i <= 10; i++) printf "%6d ", $(5 + i)
		print ""
	}'
}
# normalise LINE: the same spacing as split's output.
normalise() { split "$1" 11; }

# Drained first: the tick would otherwise move pages that load left on
# the per-CPU lists into buddyinfo between the reads.
echo 1 >$B/drain
before=$(cat $B/buddyinfo)
node0=$(grep '^Node 0,' $B/buddyinfo)
check "alloc order=4 on node 0" sh -c "echo 'order=4 node=0 zone=DMA32 type=movable' > $B/alloc"
after=$(grep '^Node 0,' $B/buddyinfo)
check "buddyinfo split as predicted" test "$(normalise "$after")" = "$(split "$node0" 4)"
check "node 1 untouched" test "$(grep '^Node 1,' $B/buddyinfo)" = "$(echo "$before" | grep '^Node 1,')"
check "allocations lists the block" sh -c "grep -q '^1 0 DMA32 0x[0-9a-f]* 4 Movable$' $B/allocations"
check "stats count it" sh -c "grep -qx 'alloc_order4 1' $B/stats"
check "free all" sh -c "echo all > $B/free"
check "buddyinfo restored" test "$(cat $B/buddyinfo)" = "$before"
check "allocations empty" test "$(grep -vc '^#' $B/allocations)" -eq 0

# Two blocks, then free one by handle.
echo 'order=5 count=2 node=0' >$B/alloc
check "free by handle" sh -c "echo 2 > $B/free"
check "one left" test "$(grep -vc '^#' $B/allocations)" -eq 1
echo all >$B/free

# extfrag/: mm/vmstat.c's unusable_free_index() and
# __fragmentation_index() over buddyinfo's counts, in its formats, with
# some single pages held so that small and large orders differ.
# expected KIND: what extfrag/KIND_index should read.
expected() {
	awk -v kind="$1" '{
		printf "Node %s zone %8s ", $2, $4
		for (o = 0; o <= 10; o++) {
			free = 0; total = 0; suitable = 0; p = 1; q = 1
			for (i = 0; i <= 10; i++) {
				free += $(i + 5) * p; total += $(i + 5)
				if (i >= o) { suitable += $(i + 5) * q; q *= 2 }
				p *= 2
			}
			req = 1; for (i = 0; i < o; i++) req *= 2
			if (kind == "unusable") {
				x = free ? int((free - suitable * req) * 1000 / free) : 1000
				printf "%d.%03d ", int(x / 1000), x % 1000
			} else {
				x = !total ? 0 : suitable ? -1000 : 1000 - int((1000 + int(free * 1000 / req)) / total)
				printf "%2d.%03d ", int(x / 1000), (x < 0 ? -x : x) % 1000
			}
		}
		print ""
	}' $B/buddyinfo
}
echo 'order=0 count=300 node=1' >$B/alloc
echo 1 >$B/drain
check "extfrag/unusable_index: the kernel's numbers" test "$(cat $D/extfrag/unusable_index)" = "$(expected unusable)"
check "extfrag/extfrag_index: the kernel's numbers" test "$(cat $D/extfrag/extfrag_index)" = "$(expected extfrag)"
echo all >$B/free

# Knobs read back what was written.
echo 2048 >$B/min_free_kbytes
check "min_free_kbytes reads back" test "$(cat $B/min_free_kbytes)" = 2048
echo 200 >$B/pcp_high
check "pcp_high reads back" test "$(cat $B/pcp_high)" = 200
check "zoneinfo shows it" sh -c "grep -q 'high:     200' $B/zoneinfo"
echo 0 >$B/pcp_high
check "pcp_high 0: each zone's default again" test "$(grep -c 'high_min: *200$' $B/zoneinfo)" -eq 0
# zoneinfo_still: zoneinfo with the lists drained, without the pcp high
# lines the tick moves on its own (decay_pcp_high()).
zoneinfo_still() { echo 1 >$B/drain; grep -v '^ *high: ' $B/zoneinfo; }
still_before=$(zoneinfo_still)
cat $B/pcp_high >$B/pcp_high
check "pcp_high read back and rewritten changes nothing" test "$(zoneinfo_still)" = "$still_before"

# The tick (decay_pcp_high() once a second): a burst of frees on CPU 0
# raises its high in node 0's zone; a few seconds later it is lower.
cpu0() { awk -v f="$1:" '$1 == "cpu:" { c = $2 } $1 == f && c == 0 { print $2; exit }' $B/zoneinfo; }
taskset 1 sh -c "echo 'order=0 count=200 node=0' > $B/alloc && echo all > $B/free"
raised=$(cpu0 high)
check "a burst of frees raises CPU 0's high" test "$raised" -gt "$(cpu0 high_min)"
# The tick is deferrable work: an idle CPU may run it late.
lower() { [ "$(cpu0 high)" -lt "$raised" ]; }
wait_tries=150
check "the tick brings it down" wait_for lower
unset wait_tries

# views: every file, the per-CPU lists drained first and their `high:`
# lines left out: the tick moves those (decay_pcp_high()) on its own, as
# the kernel's vmstat worker moves /proc/zoneinfo's.
views() {
	echo 1 >$B/drain
	for f in buddyinfo pagetypeinfo allocations min_free_kbytes pcp_high pcp_batch; do
		cat $B/$f
	done
	zoneinfo_still
}
bad() { refuses $B "$@"; }
echo 'order=3 node=1' >$B/alloc
bad alloc 'order=11' 'order must be 0..10'
bad alloc 'order=x' 'order must be 0..10'
bad alloc 'count=2' 'order=N is required'
bad alloc '' 'order=N is required'
bad alloc 'order=1 count=0' 'count must be'
bad alloc 'order=1 count=99999' 'count must be'
bad alloc 'order=1 zone=HighMem' 'no such zone type'
bad alloc 'order=1 type=weird' 'type must be'
bad alloc 'order=1 node=7' 'no such node'
bad alloc 'order=1 order=2' 'key given twice'
bad alloc 'bogus' 'expected key=value'
bad free '99' 'no such handle'
bad free 'everything' 'no such handle'
bad drain '2' 'write 1 to drain'
bad min_free_kbytes 'lots' 'not a number'
bad min_free_kbytes '999999999' 'more than the pool holds'
bad pcp_high '5000' 'need 1 <= batch'
bad pcp_high '-1' 'not a number'
bad pcp_batch '500' 'need 1 <= batch'
bad pcp_batch '-1' 'not a number'

# Too much for the pool: ENOMEM, nothing kept, every page back. (The
# failing allocation drains every CPU's lists before it gives up, as the
# kernel's slow path does: compare with the lists drained.)
echo 1 >$B/drain
snap=$(cat $B/buddyinfo $B/allocations)
check "order=10 count=4096 fails" sh -c "! echo 'order=10 count=4096' > $B/alloc"
echo 1 >$B/drain
check "and keeps nothing" test "$(cat $B/buddyinfo $B/allocations)" = "$snap"
echo all >$B/free
finish
