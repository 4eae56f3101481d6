#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-file: zonemm-mem
# /dev/zonemm pages merged as KSM merges MADV_MERGEABLE memory: two
# processes filling their own mappings alike share every page
# (pages_sharing as predicted, ksm_merging_pages per process); a write to
# a merged page is the writer's alone; after fork a write to a merged
# page is seen by both (MAP_SHARED) and the rest stay merged; pages
# read while they are merged never read a frame the merger freed;
# UNMERGEABLE gives private copies back; compaction moves mapped user
# pages, whose data stays intact; kill -9 and 1000 rounds while
# the scanner runs leave every page back and no metadata.
. /zonemm/lib.sh
plan 39
T=/zonemm/zonemm-mem
M=$D/merge
get() { cat "$M/$1"; }

dmesg -c >/dev/null
base=$(pool_free)
echo "# pool free pages at the start: $base"

echo 1000 >$M/pages_to_scan
echo 5 >$M/sleep_millisecs
echo 1 >$M/run

# A mapping nobody marked is not scanned (KSM walks VM_MERGEABLE only).
hold_bg /tmp/c $T map 256 hold
c=$bg
check "an unmarked mapping of 256 pages held" held /tmp/c
s0=$(get pages_scanned)
sleep 0.3
check "the merger does not scan it" test "$(get pages_scanned)" -eq "$s0"
kill -9 $c
wait $c 2>/dev/null

# Two processes, 128 pages each, all alike: one shared page.
hold_bg /tmp/a $T merge 128 hold
a=$bg
hold_bg /tmp/b $T merge 128 hold
b=$bg
both_held() { held /tmp/a && held /tmp/b; }
check "two processes hold 128 pages each, filled alike, marked" both_held
wait_tries=600 wait_for sh -c "test \$(cat $M/pages_sharing) -eq 255"
check "pages_shared 1, pages_sharing 255 (got $(get pages_shared) $(get pages_sharing))" \
	test "$(get pages_shared) $(get pages_sharing)" = "1 255"
check "general_profit is positive" test "$(get general_profit)" -gt 0
sed 's/^/# dev\/ksm_stat: /' $D/dev/ksm_stat
check "dev/ksm_stat: both processes, 128 pages merging each" \
	sh -c "awk -v a=$a -v b=$b '(\$1 == a || \$1 == b) && \$2 == \"zonemm-mem\" && \$7 == 128 { n++ } END { exit n != 2 }' $D/dev/ksm_stat"
check "dev/ksm_stat: the header and the two processes" test "$(wc -l <$D/dev/ksm_stat)" -eq 3
# A user region goes with its mappings only, never through a handle.
uid=$(awk '/ user -$/ { print $1; exit }' $D/region/list)
check "region/free of a user region ($uid) is refused" sh -c "! echo $uid > $D/region/free 2>/dev/null"
echo all >$D/region/free
check "region/free all leaves both user regions" test "$(grep -c ' user -$' $D/region/list)" -eq 2
check "and the merged pages" test "$(get pages_sharing)" -eq 255
check "the pool holds 1 page for the 256 (and the merger's)" test "$(pool_free)" -ge $((base - 2))
kill -9 $a $b
wait $a $b 2>/dev/null
check "kill -9 of both: every page back" back
wait_tries=100 wait_for sh -c "test \$(cat $M/pages_sharing) -eq 0"
check "pages_sharing back to 0" test "$(get pages_sharing)" -eq 0

run "two processes: each one's write to a merged page is its own" $T pair 64
check "pair: every page back" back

# Then nearly every free page of the pool is taken and written.
run "pages read while merged: no PTE left on a freed frame" $T stale 256 $((base - 300))
check "stale: every page back" back

run "fork of a merged mapping: the child's write is seen by both, the rest stays merged" $T forked 32
check "forked: every page back" back

# kill -9 while the scanner is mid-pass over 2048 pages: 64 pages every
# 20 ms, so a pass takes at least 640 ms whatever the machine.
echo 64 >$M/pages_to_scan
echo 20 >$M/sleep_millisecs
hold_bg /tmp/a $T merge 2048 hold
a=$bg
check "2048 pages held" held /tmp/a
sleep 0.3
check "the scanner is mid-pass (pages_sharing $(get pages_sharing))" test "$(get pages_sharing)" -lt 2047
kill -9 $a
wait $a 2>/dev/null
check "kill -9 mid-pass: every page back" back
echo 1000 >$M/pages_to_scan
echo 5 >$M/sleep_millisecs

run "1000 rounds of 16 pages with the scanner running" $T rounds 1000 16
check "1000 rounds: every page back" back
check "1000 rounds: dev/stat all 0" test "$(cut -d' ' -f2 $D/dev/stat | tr '\n' ' ')" = "0 0 0 "
wait_tries=100 wait_for sh -c "test \$(cat $M/pages_shared) -eq 0"
check "no shared page left" test "$(get pages_shared) $(get pages_sharing)" = "0 0"

run "1000 rounds of 8 pages, each merged before it is unmapped" $T mrounds 1000 8
check "1000 merged rounds: every page back" back
check "1000 merged rounds: dev/stat all 0" test "$(cut -d' ' -f2 $D/dev/stat | tr '\n' ' ')" = "0 0 0 "
wait_tries=100 wait_for sh -c "test \$(cat $M/pages_shared) -eq 0"
check "1000 merged rounds: no shared page left" test "$(get pages_shared) $(get pages_sharing)" = "0 0"

# Compaction moves user pages: the PTEs go, the next touch faults the
# new frame in.
echo 0 >$M/run
rm -f /tmp/scatter.in
mkfifo /tmp/scatter.in
rm -f /tmp/scatter
$T scatter 2048 $((base - 2048 - 300)) </tmp/scatter.in >/tmp/scatter 2>&1 &
pid=$!
exec 3>/tmp/scatter.in
wait_tries=600
check "2048 user pages with holes between them" wait_for grep -qx scattered /tmp/scatter
unset wait_tries
migrated=$(awk '$1 == "pgmigrate_success" { print $2 }' $D/buddy/stats)
echo all >$D/buddy/compact
moved=$(($(awk '$1 == "pgmigrate_success" { print $2 }' $D/buddy/stats) - migrated))
echo "# compaction migrated $moved pages"
check "compaction moved user pages in their mappings ($moved)" test "$moved" -ge 512
(echo >&3) 2>/dev/null
exec 3>&-
wait $pid
rc=$?
sed 's/^/# /' /tmp/scatter
check "the process reads and writes every moved page" test "$rc" -eq 0
check "scatter: every page back" back

check "run=2 unmerges" sh -c "echo 2 > $M/run"
check "run=0" sh -c "echo 0 > $M/run"
check "every page back at the end" back
check "no kernel report" no_kernel_report
check "rmmod" rmmod zonemm
finish
