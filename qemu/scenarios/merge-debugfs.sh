#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# merge/: mergeable regions filled with equal patterns share their pages
# once the scanner has been round twice; counters as predicted; every
# region still checks; a new sleep_millisecs wakes the scanner; run=2
# unmerges; out-of-range writes change nothing.
. /zonemm/lib.sh
plan 51
M=$D/merge
R=$D/region

get() { cat "$M/$1"; }
ids() { cut -d' ' -f1 $R/list; }
# full_scans_after N: wait until full_scans has advanced N past now.
scans_after() {
	target=$(($(get full_scans) + $1))
	i=0
	while [ "$(get full_scans)" -lt "$target" ]; do
		i=$((i + 1))
		[ "$i" -ge 100 ] && return 1
		sleep 0.1
	done
}

check "kernel defaults" test "$(get run) $(get pages_to_scan) $(get sleep_millisecs) $(get max_page_sharing) $(get use_zero_pages)" = "0 100 20 256 0"
for f in pages_scanned pages_shared pages_sharing pages_unshared pages_volatile full_scans stable_node_chains stable_node_dups ksm_zero_pages general_profit; do
	check "$f starts at 0" test "$(get $f)" -eq 0
done

# Three regions of 8 pages: two filled 0x5a, one 0x33.
for n in 1 2 3; do echo '32K mergeable' >$R/alloc; done
set -- $(ids)
echo "$1 0x5a" >$R/fill
echo "$2 0x5a" >$R/fill
echo "$3 0x33" >$R/fill

echo 5 >$M/sleep_millisecs
check "run=1" sh -c "echo 1 > $M/run"
check "the scanner goes round twice" scans_after 2
check "run=0" sh -c "echo 0 > $M/run"
# 16 pages of 0x5a share one page, 8 of 0x33 another.
check "pages_shared = 2" test "$(get pages_shared)" -eq 2
check "pages_sharing = 22" test "$(get pages_sharing)" -eq 22
check "pages_unshared = 0" test "$(get pages_unshared)" -eq 0
check "pages_volatile = 0" test "$(get pages_volatile)" -eq 0
check "general_profit: 22 pages less metadata" \
	test "$(get general_profit)" -gt $((21 * 4096)) -a "$(get general_profit)" -lt $((22 * 4096))
set -- $(ids)
ok_all=1
for a in "$@"; do
	echo "$a 0x5a" >$R/check 2>/dev/null || echo "$a 0x33" >$R/check 2>/dev/null || ok_all=0
done
check "every region still checks" test "$ok_all" -eq 1

# A write breaks the sharing of the pages it touches.
a=$(ids | head -n 1)
check "fill one region 0x11" sh -c "echo '$a 0x11' > $R/fill"
check "its pages left the shared ones" test "$(get pages_sharing)" -lt 22

check "run=2 unmerges" sh -c "echo 2 > $M/run"
check "nothing shared" test "$(get pages_shared) $(get pages_sharing)" = "0 0"
ok_all=1
for a in $(ids); do
	echo "$a 0x5a" >$R/check 2>/dev/null || echo "$a 0x33" >$R/check 2>/dev/null ||
		echo "$a 0x11" >$R/check 2>/dev/null || ok_all=0
done
check "every region still checks after unmerge" test "$ok_all" -eq 1

views() { for f in $M/*; do cat "$f"; done; }
bad() { refuses $M "$@"; }
bad run 3 'run is 0, 1 or 2'
bad run x 'not a number'
bad pages_to_scan 0 'pages_to_scan is 1 to 100000'
bad sleep_millisecs 99999999 'sleep_millisecs is 0 to 60000'
bad max_page_sharing 1 'max_page_sharing is at least 2'
bad use_zero_pages 2 'use_zero_pages is 0 or 1'
check "a counter is read-only" sh -c "! echo 5 > $M/pages_shared 2>/dev/null"

# A scanner asleep for a minute wakes when sleep_millisecs changes.
echo 0 >$M/run
echo 60000 >$M/sleep_millisecs
echo 1 >$M/run
sleep 1
s=$(get pages_scanned)
sleep 1
check "asleep for a minute" test "$(get pages_scanned)" -eq "$s"
echo 5 >$M/sleep_millisecs
woke() { [ "$(get pages_scanned)" -gt "$s" ]; }
check "a new sleep_millisecs wakes it" wait_for woke
check "  and it scans on" scans_after 1

# max_page_sharing while pages are shared: EBUSY, as in the kernel.
scans_after 2
dmesg -c >/dev/null
check "max_page_sharing while shared: refused" sh -c "! echo 8 > $M/max_page_sharing 2>/dev/null"
check "  as busy" sh -c "dmesg | grep -q 'busy: pages are shared'"
check "rmmod stops the scanner and frees everything" rmmod zonemm
check "every CMA page back" wait_for cma_back
finish
