#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Print the kernel log of zonemm's insmod: its KUnit suites' KTAP runs
# there, before insmod returns.
cat /run/zonemm/insmod.log
