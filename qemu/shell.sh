#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make shell's guest side: an interactive shell on the console, zonemm
# loaded, zonemm-top at hand. Exit the shell to power the guest off.
exec </dev/ttyS0 >/dev/ttyS0 2>&1
echo "zonemm is loaded: try /zonemm/zonemm-top, or ls /sys/kernel/debug/zonemm. exit to leave."
exec setsid cttyhack sh -l
