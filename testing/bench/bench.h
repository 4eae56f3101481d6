/* SPDX-License-Identifier: GPL-2.0 */
/* zonemm_bench: what cases.c and workloads.c share. */
#ifndef ZONEMM_BENCH_H
#define ZONEMM_BENCH_H

struct dentry;

/* workloads.c: the merge and fragmentation setups, driven from user space. */
void workloads_init(struct dentry *dir);
void workloads_exit(void);

#endif /* ZONEMM_BENCH_H */
