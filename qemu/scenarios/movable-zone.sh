#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-params: pool_mb=16 node_mb=8 movable_mb=4
# movable_mb carves a Movable zone off the top of each node's pages;
# movable allocations go there first, kernel ones never do.
. /zonemm/lib.sh
plan 9
B=$D/buddy

cat $B/buddyinfo
check "node 0 has DMA32 and Movable" \
	test "$(grep -c -e '^Node 0, zone    DMA32' -e '^Node 0, zone  Movable' $B/buddyinfo)" -eq 2
check "node 1 has Normal and Movable" \
	test "$(grep -c -e '^Node 1, zone   Normal' -e '^Node 1, zone  Movable' $B/buddyinfo)" -eq 2
check "Movable zones hold 4 MiB each" \
	test "$(grep -A7 'zone  Movable' $B/zoneinfo | grep -c 'managed  1024')" -eq 2
echo 'order=4 type=movable node=1' >$B/alloc
echo 'order=4 node=1' >$B/alloc
check "the movable block is in Movable" sh -c "grep -q '^1 1 Movable ' $B/allocations"
check "the kernel block is in Normal" sh -c "grep -q '^2 1 Normal ' $B/allocations"
# Normal keeps lowmem_reserve[Movable] = 1024 / 32 pages from movable users.
check "Normal protects 32 pages from Movable users" \
	sh -c "grep -A9 'zone   Normal' $B/zoneinfo | grep -q 'protection: (0, 0, 0, 32)'"
echo all >$B/free
# __setup_per_zone_wmarks(): 2048 kB (512 pages) split over the lowmem
# zones alone, DMA32's 1024 pages (node_mb) and Normal's 3072 (CMA): min
# 128 and 384, gaps of a quarter of that. Each Movable zone (1024 pages) has its min clamped
# to 32 (1024 / 1024 is under SWAP_CLUSTER_MAX) and the gap of its share,
# 512 * 1024 / 4096 / 4 = 32.
echo 2048 >$B/min_free_kbytes
zone_marks() { grep -A12 "^Node $1, zone *$2\$" $B/zoneinfo | awk '$1 ~ /^(min|low|high)$/ { printf "%s %s ", $1, $2 }'; }
check "DMA32's watermarks: its lowmem share" test "$(zone_marks 0 DMA32)" = "min 128 low 160 high 192 "
check "Normal's watermarks: its lowmem share" test "$(zone_marks 1 Normal)" = "min 384 low 480 high 576 "
check "Movable's min clamped, its gaps from its share" test "$(zone_marks 0 Movable)" = "min 32 low 64 high 96 "
finish
