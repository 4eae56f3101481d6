#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every debugfs file is root-only, as /proc/slabinfo is: views 0400,
# write-only controls 0200, read/write knobs 0600. And an unloaded
# zonemm leaves nothing behind in debugfs.
. /zonemm/lib.sh
plan 7

bad=0
for f in $(find $D -type f); do
	m=$(stat -c %a "$f")
	case "$m" in
	400 | 200 | 600) ;;
	*) echo "$f: mode $m"; bad=$((bad + 1)) ;;
	esac
done
check "every file is 0400, 0200 or 0600" test "$bad" -eq 0
check "slabinfo is 0400" test "$(stat -c %a $D/slab/slabinfo)" = 400
check "buddy/alloc is 0200" test "$(stat -c %a $D/buddy/alloc)" = 200
check "merge/run is 0600" test "$(stat -c %a $D/merge/run)" = 600
check "more than 80 files" test "$(find $D -type f | wc -l)" -gt 80
check "rmmod" rmmod zonemm
check "the tree is gone" test ! -e $D
finish
