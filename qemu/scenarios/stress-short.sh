#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The short stress run: every CPU, every layer, the merger scanning; then
# again under fault injection at every site. Nothing is lost, mixed or
# leaked, and faults show up only as ENOMEM. (make stress runs it longer.)
. /zonemm/lib.sh
plan 86
S=$D/stress
F=$D/fault
secs=$(sed -n 's/.*zonemm.stress=\([0-9]*\).*/\1/p' /proc/cmdline)
secs=${secs:-3}

get() { awk -v k="$1" '$1 == k { print $2 }' $S/results; }
# exhaustions: one count per CPU, each above zero.
every_cpu_exhausted() {
	set -- $(grep '^exhaustions' $S/results)
	shift
	[ $# -eq "$(nproc)" ] || return 1
	for n; do [ "$n" -gt 0 ] || return 1; done
}
verify() {
	cat $S/results
	check "$1: no mismatch in any byte checked" test "$(get mismatches)" -eq 0
	check "$1: no error but ENOMEM" test "$(get errors)" -eq 0
	check "$1: no corruption found by red zones or poison" test "$(get corruptions)" -eq 0
	check "$1: no object left" test "$(get objects_left)" = 0
	check "$1: every page back" test "$(get pages_back)" = yes
	check "$1: every zone sound" test "$(get zones_sound)" = yes
	check "$1: operations ran" test "$(get free)" -gt 100
	check "$1: allocated until ENOMEM on every CPU" every_cpu_exhausted
}

# Hung tasks reported after 2 s: a run's writer waits seconds for its
# workers and must not look hung (scripts/guest-run fails on the report).
# Only while the runs last: the previous value is back before rmmod.
hung=/proc/sys/kernel/hung_task_timeout_secs
hung_before=$(cat $hung)
check "hung-task detector at 2 s" sh -c "echo 2 > $hung"
check "stress seconds=$secs" sh -c "echo seconds=$secs > $S/run"
verify plain
check "plain: bytes checked" test "$(get bytes_checked)" -gt 1000000
check "plain: pages were merged" test "$(get merged_peak)" -gt 0
check "plain: no ENOMEM taken for an injected fault" test "$(get enomem_faulted)" -eq 0

# A round per site, then all at once: the faults fall at entry and at the
# internal points (a new slab once its pages are taken, a region's pages, array and mapping, a
# shared page, a per-CPU refill, a split).
echo 10 >$F/probability
for where in buddy slab region merge buddy,slab,region,merge; do
	echo $where >$F/where
	check "stress under faults at $where" sh -c "echo seconds=$secs > $S/run"
	verify "faults at $where"
	check "faults at $where: injected" test "$(get faults_injected)" -gt 0
	# Operations that failed with ENOMEM while a fault was injected (every
	# run exhausts the pool, so plain ENOMEMs prove nothing). Faults at the
	# merge site stay in the merger, which leaves the page unmerged a while
	# longer: no stress operation sees them.
	if [ "$where" != merge ]; then
		check "faults at $where: seen as ENOMEM" test "$(get enomem_faulted)" -gt 0
	fi
done
echo none >$F/where
check "hung-task detector back at $hung_before s" sh -c "echo $hung_before > $hung"

views() { cat $F/probability $F/interval $F/times $F/space $F/where; }
bad() { refuses $F "$@"; }
bad probability 101 'out of range'
bad interval 0 'out of range'
bad times -2 'or a count'
bad space x 'out of range'
bad where 'buddy,disk' 'sites are'
check "stress/run without seconds refused" sh -c "! echo go > $S/run 2>/dev/null"
check "rmmod" rmmod zonemm
check "every CMA page back" wait_for cma_back
finish
