#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-file: zonemm-mem
# /dev/zonemm: root-only (0600); mmap gives zeroed pool pages on first
# touch and every page goes back to the pool when the last mapping goes
# (munmap, exit, kill -9, after fork, both parts of a split mapping);
# MAP_POPULATE mappings work; two mappings never share; 1000
# map/fill/mark/unmap rounds leave nothing behind; hostile mmap and ioctl arguments are refused and change
# nothing; a process holding a mapping holds the module.
. /zonemm/lib.sh
plan 47
T=/zonemm/zonemm-mem

dmesg -c >/dev/null
base=$(pool_free)
echo "# pool free pages at the start: $base"
has() { grep -qx "$1" /tmp/out; }

check "/dev/zonemm is a character device" test -c /dev/zonemm
check "/dev/zonemm is 0600 root:root" test "$(stat -c '%a %u %g' /dev/zonemm)" = "600 0 0"
run "nobody cannot open it" $T open-as 65534
check "nobody: EACCES" has "open as uid 65534: Permission denied"

# Touched pages come from the pool, and go back at kill -9.
hold_bg /tmp/hold $T map 256 hold
pid=$bg
check "256 pages mapped, touched, held" held /tmp/hold
sed 's/^/# /' /tmp/hold
check "new pages read as zero, writes read back" sh -c 'grep -c "^ok" /tmp/hold | grep -qx 2'
check "the process's figures: 1 mapping, 256 pages" sh -c 'grep -qx "mappings 1" /tmp/hold && grep -qx "mapped_pages 256" /tmp/hold'
check "the pool has 256 pages fewer" test "$(pool_free)" -eq $((base - 256))
check "dev/stat: 1 area holding 256 pages" sh -c "head -n 2 $D/dev/stat | tr '\n' ' ' | grep -qx 'areas 1 pages 256 '"
check "rmmod refused while a mapping exists" sh -c '! rmmod zonemm 2>/dev/null'
kill -9 $pid
wait $pid 2>/dev/null
check "kill -9: every page back" back

run "map, touch, munmap 256 pages" $T map 256
check "no page there before the first touch" sh -c 'sed -n 2,3p /tmp/out | grep -qx "mapped_pages 0"'
check "after munmap: no page mapped" sh -c 'tail -n 6 /tmp/out | grep -qx "mapped_pages 0"'
check "munmap: every page back" back

# munmap of a part: the area keeps its pages until the last part goes.
rm -f /tmp/split.in
mkfifo /tmp/split.in
rm -f /tmp/split
$T split 8 </tmp/split.in >/tmp/split 2>&1 &
pid=$!
exec 3>/tmp/split.in
check "munmap of the second page of 8 splits the mapping" wait_for grep -qx split /tmp/split
check "the split mapping keeps its 8 pages" test "$(pool_free)" -eq $((base - 8))
(echo >&3) 2>/dev/null
exec 3>&-
wait $pid
rc=$?
sed 's/^/# /' /tmp/split
check "split: both parts hold their data, a range over the hole is refused" test "$rc" -eq 0
check "split: every page back once both parts are unmapped" back

run "MAP_POPULATE mapping of 64 pages" $T map 64 populate
check "MAP_POPULATE: all 64 pages there before the first touch" sh -c 'sed -n 2,3p /tmp/out | grep -qx "mapped_pages 64"'
check "MAP_POPULATE: every page back" back

run "fork: parent and child share the mapping" $T fork 64
check "fork: every page back after both exit" back

run "two mappings do not share" $T two 32
check "two mappings: every page back" back

# kill -9 while the merger's scanner runs.
echo 1 >$D/merge/run
hold_bg /tmp/hold $T merge 128 hold
pid=$bg
check "128 pages filled alike, marked mergeable, held" held /tmp/hold
check "128 mergeable pages" grep -qx "mergeable_pages 128" /tmp/hold
sleep 0.3
kill -9 $pid
wait $pid 2>/dev/null
echo 0 >$D/merge/run
check "kill -9 with the scanner running: every page back" back

# More pages than the pool can give: SIGBUS at the first one it cannot.
managed=$(awk '$1 == "managed" { s += $2 } END { print s }' $D/buddy/zoneinfo)
$T map "$managed" >/tmp/out 2>&1
rc=$?
check "touching all $managed pages of the pool: SIGBUS (status $rc)" test "$rc" -eq 135
check "after SIGBUS: every page back" back

run "1000 rounds of 64 pages" $T rounds 1000 64
check "1000 rounds: every page back" back
sed 's/^/# dev\/stat: /' $D/dev/stat
# No area, page or slot byte is left: the metadata did not grow.
check "1000 rounds: dev/stat all 0" test "$(cut -d' ' -f2 $D/dev/stat | tr '\n' ' ')" = "0 0 0 "

run "hostile arguments refused, nothing changed" $T hostile
check "hostile: every page back" back
for reason in "mmap: MAP_PRIVATE: only MAP_SHARED mappings" "mmap: offset is not 0" "mmap: PROT_EXEC" \
	"mmap: longer than the pool" "ZONEMM_IOC_MERGEABLE: start is not page-aligned" \
	"ZONEMM_IOC_MERGEABLE: len is 0 or not a multiple of the page size" \
	"ZONEMM_IOC_MERGEABLE: start + len overflows" \
	"ZONEMM_IOC_MERGEABLE: not a range inside one /dev/zonemm mapping of this process"; do
	check "reason logged: $reason" sh -c "dmesg | grep -qF '/dev/zonemm: $reason'"
done
check "no kernel report" no_kernel_report
check "rmmod once no mapping is left" rmmod zonemm
check "/dev/zonemm is gone" test ! -e /dev/zonemm
finish
