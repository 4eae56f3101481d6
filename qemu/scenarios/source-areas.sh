#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-params: pool_mb=8 node_mb=8
# source/areas lists the CMA chunk on the CMA node and page-allocator
# chunks, in MAX_PAGE_ORDER blocks, on every other node.
. /zonemm/lib.sh
plan 11

areas=$D/source/areas
check "source/areas exists" test -r "$areas"
check "header line" sh -c "head -n 1 $areas | grep -qx '# origin name node zone base_pfn pages'"
cat "$areas"

cma=$(grep '^cma ' "$areas")
check "one CMA chunk" test "$(echo "$cma" | grep -c .)" -eq 1
set -- $cma
cma_node=$3
check "CMA chunk is the 8 MiB asked for" test "$6" -eq 2048
check "CMA chunk is in Normal (above 4 GiB)" test "$4" = Normal
check "CMA chunk is named 'reserved'" test "$2" = reserved
check "CMA chunk on node 1" test "$cma_node" = 1

check "no page chunks on the CMA node" \
	test "$(awk -v n="$cma_node" '$1 == "pages" && $3 == n' "$areas" | grep -c .)" -eq 0
check "two 4 MiB page chunks on node 0" \
	test "$(awk '$1 == "pages" && $3 == 0 && $6 == 1024' "$areas" | grep -c .)" -eq 2
check "node 0 page chunks are in DMA32" \
	test "$(awk '$1 == "pages" && $4 != "DMA32"' "$areas" | grep -c .)" -eq 0
check "base pfns are 4 MiB aligned" \
	test "$(awk '!/^#/ && (($5 + 0) % 1024) != 0' "$areas" | grep -c .)" -eq 0
finish
