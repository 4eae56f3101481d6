#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-params: pool_mb=32 node_mb=16
# Loaded, zonemm holds its CMA chunk and node 0's chunks; after rmmod
# every CMA page is back (the areas' used counts as before insmod), and node 0 has its 16 MiB
# back. (Node 0's MemFree is compared with its value while loaded: on the
# debug kernel, KASAN's quarantine keeps memory freed since boot, so
# "before insmod" is no baseline there.)
. /zonemm/lib.sh
plan 7

cma_before=$(cat /run/zonemm/cmaused.before)
node0_before=$(cat /run/zonemm/memfree.0.before)
echo "before insmod: $cma_before CMA pages taken, node 0 MemFree $node0_before kB"

cma_held() { cma_now=$(cma_used) && [ $((cma_now - cma_before)) -ge 8192 ]; }
node0_held() { [ $((node0_before - $(node_memfree 0))) -ge 16384 ]; }
check "loaded: 32 MiB of CMA taken" wait_for cma_held
check "loaded: 16 MiB of node 0 taken" wait_for node0_held

node0_loaded=$(node_memfree 0)
check "rmmod zonemm" rmmod zonemm
check "module gone" test ! -e /sys/module/zonemm
check "debugfs tree gone" test ! -e "$D"

# Node 0 may have lent a few pages to others meanwhile: allow 1 MiB.
node0_back() { [ "$(node_memfree 0)" -ge $((node0_loaded + 16384 - 1024)) ]; }
check "every CMA page back" cma_back
check "node 0 has its 16 MiB back" wait_for node0_back
echo "after rmmod: $(cma_used) CMA pages taken, node 0 MemFree $(node_memfree 0) kB"
finish
