#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench's guest side: the in-kernel benchmark (bench/run), then the
# kernel's own KSM timed from user space, on the same number of pages.
# "quick" on the command line (zonemm.bench=quick) makes both tiny.
. /zonemm/lib.sh

mode=$(sed -n 's/.*zonemm.bench=\([a-z]*\).*/\1/p' /proc/cmdline)
run="all"
pages=1024
if [ "$mode" = quick ]; then
	run="quick all"
	pages=8
fi
echo "$run" >$D/bench/run || exit 1
cat $D/bench/results
/zonemm/ksm-bench "$pages" | sed "s/^/layer=merge case=kernel_ksm param=$pages /"
