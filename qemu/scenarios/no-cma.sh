#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-append: cma=0
# zonemm-params: node_mb=4
# With no CMA area, zonemm runs on page-allocator chunks on every node and
# says so in one log line.
. /zonemm/lib.sh
plan 5

cat "$D/source/areas"
check "says it runs without CMA" grep -q 'zonemm: no CMA area reachable' /run/zonemm/insmod.log
check "no CMA chunks" test "$(grep -c '^cma ' "$D/source/areas")" -eq 0
check "a chunk on node 0" test "$(awk '$1 == "pages" && $3 == 0' "$D/source/areas" | grep -c .)" -eq 1
check "a chunk on node 1" test "$(awk '$1 == "pages" && $3 == 1' "$D/source/areas" | grep -c .)" -eq 1
check "rmmod" rmmod zonemm
finish
