#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# zonemm-file: zonemm-bench
# zonemm-file: zonemm-write
# zonemm-file: zonemm_bench.ko
# zonemm-params: pool_mb=48
# The benchmark end to end with tiny counts (make bench runs it in full and
# judges the numbers): every case done in full on both sides with every tag
# intact, both mergers reach exactly the expected sharing, both sides of
# the fragmentation workload allocate all of it, bad input is refused, and
# the benchmark module goes away leaving zonemm as it was; the elastic
# pool's burst row is made once. No timing is judged here.
. /zonemm/lib.sh
plan 45
B=/sys/kernel/debug/zonemm_bench

# views: the pool once settled (lib.sh), as the samples scenario reads it.
views() {
	settle
	cat $D/buddy/buddyinfo $D/region/vmallocinfo
	grep -v '^zonemm_bench' $D/slab/slabinfo
}
before=$(views)
check "insmod zonemm_bench" insmod /zonemm/zonemm_bench.ko
check "zonemm cannot be unloaded under it" sh -c "! rmmod zonemm 2>/dev/null"
check "run quick all" sh -c "echo 'quick all' > $B/run"
res=/tmp/results
cat $B/results >$res
cat $res
check "36 timed cases" test "$(grep -c '^layer=[a-z]* case=' $res)" -eq 36
check "every case valid" test "$(grep '^layer=[a-z]* case=' $res | grep -vc ' valid=1$')" -eq 0
short=$(awk '/ case=/ {
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	if (v["zonemm_ops"] != v["expected_ops"] || ($0 !~ /kernel=none/ && v["kernel_ops"] != v["expected_ops"])) bad++
	delete v } END { print bad + 0 }' $res)
check "both sides did every operation" test "$short" = 0
check "cases on 2 CPUs ran" grep -q ' cpus=2 ' $res
check "the order>0 bulk rows say zonemm only" test "$(grep -c 'case=order[39]_bulk16_zonemm_only .* kernel=none' $res)" -eq 2
check "struct page size reported" grep -q '^layer=info struct_page_bytes=[1-9]' $res
/zonemm/zonemm-bench merge 16 2 >/tmp/merge
cat /tmp/merge
check "4 merge runs" test "$(grep -c '^layer=merge' /tmp/merge)" -eq 4
check "each reached exactly the expected sharing" test "$(awk '/^layer=merge/ {
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	if (v["sharing"] == v["want_sharing"] && v["shared"] == v["want_shared"]) n++ } END { print n + 0 }' /tmp/merge)" -eq 4
check "merge regions freed" grep -q '^pages=0 ' $B/merge
/zonemm/zonemm-bench frag 10 >/tmp/frag
cat /tmp/frag
check "frag: both sides allocated their whole workload" test "$(grep -c ' failed=0 ' /tmp/frag)" -eq 2
check "frag: the kernel's blocks are back" grep -q '^allocations=0 ' $B/frag
views_bench() { cat $B/results $B/merge $B/frag; }
refuses_bench() {
	snap=$(views_bench)
	dmesg -c >/dev/null
	if /zonemm/zonemm-write -s $B/$1 "$2" EINVAL >/dev/null; then ok "$1 '$2' refused with EINVAL"; else not_ok "$1 '$2' refused with EINVAL"; fi
	check "$1 '$2': reason logged" sh -c "dmesg | grep -q '$3'"
	check "$1 '$2': nothing changed" test "$(views_bench)" = "$snap"
}
refuses_bench run "slow all" "run: usage"
refuses_bench run "quick quick" "run: usage"
refuses_bench run "all buddy" "run: usage"
refuses_bench run "buddy quick" "run: usage"
refuses_bench run " " "nothing written"
refuses_bench merge "alloc 0" "merge: usage"
refuses_bench merge "alloc 40000" "merge: usage"
refuses_bench frag "alloc x" "frag: usage"
check "rmmod zonemm_bench" rmmod zonemm_bench
after=$(views)
check "every view is back" test "$after" = "$before"
[ "$after" = "$before" ] || { echo "$before" >/tmp/v1; echo "$after" >/tmp/v2; diff /tmp/v1 /tmp/v2; }
check "source/metadata lists every kind" test "$(grep -c '_bytes [0-9]' $D/source/metadata)" -eq 5
check "rmmod zonemm" rmmod zonemm
# The elastic-pool row (pool_burst), one run.
insmod /zonemm/zonemm.ko pool_mb=16 node_mb=4 max_pool_mb=64
pool_burst 1 >/tmp/burst
sed 's/^/# /' /tmp/burst
check "burst: one row, nothing failed, the pool grew past the burst" \
	test "$(awk '/^layer=burst / && / failed=0 writer_errors=0 / {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (v["peak_pages"] >= v["burst_pages"] && v["grown_blocks"] > 0) n++ } END { print n + 0 }' /tmp/burst)" -eq 1
check "burst: the pool came back to its starting size" grep -q ' back_s=[0-9]' /tmp/burst
check "rmmod zonemm after the burst" rmmod zonemm
finish
