#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# slab/: slabinfo rows change exactly as alloc/free writes predict;
# destroy refuses a cache in use; malformed writes get EINVAL, a reason,
# and change no view.
. /zonemm/lib.sh
plan 118
S=$D/slab

# row NAME: the cache's slabinfo row.
row() { grep "^$1 " $S/slabinfo; }
# field NAME N: field N of the row (1: name, 2: active_objs, 3: num_objs,
# 14: active_slabs, 15: num_slabs).
field() { row "$1" | awk -v n="$2" '{ print $n }'; }

check "slabinfo header" sh -c "head -n 1 $S/slabinfo | grep -qx 'slabinfo - version: 2.1'"
check "column header" sh -c "sed -n 2p $S/slabinfo | grep -q '^# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>$'"
check "13 kmalloc classes" test "$(grep -c '^kmalloc-' $S/slabinfo)" -eq 13
check "kmalloc-96 holds 96-byte objects" test "$(field kmalloc-96 4)" -eq 96

check "create demo 256" sh -c "echo 'demo 256' > $S/create"
check "demo's row, empty" test "$(field demo 2) $(field demo 3)" = "0 0"
check "demo's directory" test -d $S/demo
per_slab=$(field demo 5)
check "alloc count=10" sh -c "echo count=10 > $S/demo/alloc"
check "10 objects active" test "$(field demo 2)" -eq 10
check "one slab's worth in use" test "$(field demo 3)" -eq "$per_slab"
check "one active slab" test "$(field demo 14)" -eq 1
check "alloc count=$per_slab more" sh -c "echo count=$per_slab > $S/demo/alloc"
check "$((per_slab + 10)) objects active" test "$(field demo 2)" -eq $((per_slab + 10))
check "two slabs" test "$(field demo 15)" -eq 2
check "free all" sh -c "echo all > $S/demo/free"
check "none active" test "$(field demo 2)" -eq 0
check "shrink" sh -c "echo 1 > $S/demo/shrink"
check "no slabs left" test "$(field demo 15)" -eq 0

check "kmalloc-64 alloc count=3" sh -c "echo count=3 > $S/kmalloc-64/alloc"
check "kmalloc-64: 3 active" test "$(field kmalloc-64 2)" -eq 3
echo all >$S/kmalloc-64/free
check "kmalloc-64: 0 active" test "$(field kmalloc-64 2)" -eq 0

# Injected faults reach the hit path too (failslab's chance is taken
# before the per-CPU cache is looked at): on each CPU, with that CPU's
# object cache just warmed by frees there, an allocation it could serve
# fails while slab faults are armed, and works again once they are not.
F=$D/fault
injected0=$(cat $F/injected)
for cpu in 0 1; do
	taskset -c $cpu sh -c "echo count=2 > $S/kmalloc-64/alloc && echo all > $S/kmalloc-64/free"
	echo 100 >$F/probability
	echo 1 >$F/times
	echo slab >$F/where
	check "CPU $cpu, slab faults armed: an allocation its warm cache could serve fails" \
		sh -c "! taskset -c $cpu sh -c 'echo count=1 > $S/kmalloc-64/alloc' 2>/dev/null"
	echo none >$F/where
	check "CPU $cpu, disarmed: it works" taskset -c $cpu sh -c "echo count=1 > $S/kmalloc-64/alloc"
	echo all >$S/kmalloc-64/free
done
check "  two faults injected" test "$(cat $F/injected)" -eq $((injected0 + 2))
# One chance per allocation, not one on the hit and one more on the miss:
# with every second chance failing, the first allocation works and the
# second fails.
taskset -c 0 sh -c "echo count=2 > $S/kmalloc-64/alloc && echo all > $S/kmalloc-64/free"
injected1=$(cat $F/injected)
echo 2 >$F/interval
echo 2 >$F/times
echo slab >$F/where
check "interval 2: the first allocation works" taskset -c 0 sh -c "echo count=1 > $S/kmalloc-64/alloc"
check "  the second fails" sh -c "! taskset -c 0 sh -c 'echo count=1 > $S/kmalloc-64/alloc' 2>/dev/null"
echo none >$F/where
echo 1 >$F/interval
check "  one fault injected" test "$(cat $F/injected)" -eq $((injected1 + 1))
echo all >$S/kmalloc-64/free
check "  kmalloc-64: 0 active" test "$(field kmalloc-64 2)" -eq 0

check "tunables 60 30" sh -c "echo '60 30' > $S/demo/tunables"
check "tunables read back" test "$(cat $S/demo/tunables)" = "60 30"
check "slabinfo shows them" sh -c "grep '^demo ' $S/slabinfo | grep -q 'tunables   60   30    0'"

echo count=1 >$S/demo/alloc
dmesg -c >/dev/null
check "destroy in use: EBUSY" sh -c "! echo demo > $S/destroy 2>/dev/null"
check "  and lists the object" sh -c "dmesg | grep -q 'zonemm:   object 0x'"
check "  and keeps the cache" test -n "$(row demo)"

views() { cat $S/slabinfo $S/demo/tunables; ls $S; }
bad() { refuses $S "$@"; }
bad create '' 'usage: NAME SIZE'
bad create 'bad!name 64' 'a name is 1 to 31'
bad create 'x' 'SIZE is required'
bad create 'x 0' 'SIZE must be'
bad create 'x 99999' 'SIZE must be'
bad create 'x 64 align=3' 'align must be'
bad create 'x 64 flags=bogus' 'flags are redzone'
bad create 'x 64 ctor=weird' 'ctor is zero or pattern'
bad create 'x 64 colour=1' 'unknown key'
bad create 'demo 64' 'a cache of that name exists'
bad create 'kmalloc-64 64' 'a cache of that name exists'
bad destroy 'nosuch' 'no such cache'
bad destroy 'kmalloc-64' 'the kmalloc caches stay'
bad demo/alloc 'count=0' 'count must be'
bad demo/alloc 'count=x' 'not a number'
bad demo/alloc 'count=99999' 'count must be'
bad demo/alloc 'bogus' 'expected key=value'
bad demo/free '0x1234' 'not an object allocated here'
bad demo/free 'some' 'not an object allocated here'
bad demo/shrink '2' 'write 1 to shrink'
bad demo/tunables '0 0' 'need 1 <= batchcount'
bad demo/tunables '600 10' 'need 1 <= batchcount'
bad demo/tunables '10 20' 'need 1 <= batchcount'
bad demo/tunables 'x y' 'not a number'
bad demo/tunables '5' 'usage: LIMIT BATCHCOUNT'

echo all >$S/demo/free
check "destroy when idle" sh -c "echo demo > $S/destroy"
check "row gone" test -z "$(row demo)"
check "directory gone" test ! -e $S/demo
check "debug cache with ctor" sh -c "echo 'dbg 40 align=8 flags=redzone,poison,store_user ctor=pattern' > $S/create"
echo count=2 >$S/dbg/alloc
check "dbg: 2 active" test "$(field dbg 2)" -eq 2
check "rmmod with objects out" rmmod zonemm
check "every CMA page back" wait_for cma_back
finish
