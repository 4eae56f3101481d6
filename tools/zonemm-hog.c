// SPDX-License-Identifier: GPL-2.0
/*
 * zonemm-hog: a memory hog that drives the guest's kernel into its own
 * reclaim (kswapd's balance_pgdat(), direct reclaim: shrink_slab() and so
 * every registered shrinker), as a process that wants more memory than is
 * free does on any machine. The guest has no swap, so the kernel can take
 * nothing from the hog itself.
 *
 *   zonemm-hog FILL_KB NEAR_KB FILE KEY MAX_MB
 *
 * Free memory is counted as the allocator counts it for the hog: the
 * free pages above the low watermark (where kswapd is woken) of every
 * zone but DMA (kept from user pages by lowmem_reserve), CMA pages
 * included (user pages are movable). First the hog takes anonymous
 * memory (every page written) until that is at most FILL_KB, prints
 * "held" and waits for a line on stdin; then the same down to NEAR_KB,
 * prints "near" and waits for a line again. Then it takes a MiB at a time until the value of KEY (a
 * "KEY value" line of FILE, e.g. zonemm's buddy/stats) changes, or
 * MAX_MB more MiB are taken, waiting up to 5 s for kswapd whenever it is
 * below the low watermarks: exit 0 if it changed, 1 if not. Its
 * oom_score_adj is 1000: if reclaim is not enough, the OOM killer takes
 * the hog and nothing else.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1UL << 20)

static long meminfo(const char *field)
{
	char line[256];
	long value = -1;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			value = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return value;
}

/*
 * kB free above the low watermark in the zones a user page can come from
 * (/proc/zoneinfo: every zone but DMA), or -1.
 */
static long above_low_kb(void)
{
	char line[256], zone[32] = "";
	long free = 0, sum = 0, v;
	int found = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %*d, zone %31s", zone) == 1)
			continue;
		if (sscanf(line, " pages free %ld", &v) == 1)
			free = v;
		else if (sscanf(line, " low %ld", &v) == 1 && strcmp(zone, "DMA")) {
			sum += free - v;
			found = 1;
		}
	}
	fclose(f);
	return found ? sum * 4 : -1;
}

/* The value of FILE's "KEY value" line, or -1. */
static long long key_value(const char *file, const char *key)
{
	char line[256];
	long long value = -1;
	size_t n = strlen(key);
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ') {
			value = strtoll(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return value;
}

/*
 * Takes mib more MiB, every page written; 0 if mmap fails. Large takes
 * ask for transparent huge pages (a fault per 2 MiB rather than per page:
 * under TCG, filling the guest's 5 GiB a page at a time takes a minute).
 */
static int take(unsigned long mib, int huge)
{
	char *p = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 0;
	madvise(p, mib * MIB, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (unsigned long off = 0; off < mib * MIB; off += 4096)
		p[off] = 1;
	return 1;
}

/* Takes memory until MemFree is at most kb; returns the MiB taken, or -1. */
static long fill_to(long kb)
{
	long taken = 0;

	for (long free_kb; (free_kb = above_low_kb()) > kb;) {
		/* 64 MiB at a time while that cannot overshoot by much. */
		long mib = free_kb - kb > 128 * 1024 ? 64 : 1;

		if (!take(mib, mib > 1)) {
			perror("mmap");
			return -1;
		}
		taken += mib;
	}
	return taken;
}

int main(int argc, char **argv)
{
	long fill_kb, near_kb, max_mb, taken, more = 0;
	long long before, now;
	char line[16];
	FILE *adj;

	if (argc != 6 || (fill_kb = strtol(argv[1], NULL, 10)) <= 0 ||
	    (near_kb = strtol(argv[2], NULL, 10)) <= 0 || near_kb > fill_kb ||
	    (max_mb = strtol(argv[5], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: zonemm-hog FILL_KB NEAR_KB FILE KEY MAX_MB\n");
		return 2;
	}
	adj = fopen("/proc/self/oom_score_adj", "w");
	if (!adj || fputs("1000\n", adj) < 0 || fclose(adj)) {
		perror("oom_score_adj");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	taken = fill_to(fill_kb);
	if (taken < 0)
		return 2;
	printf("filled %ld MiB, %ld kB above the low watermarks, MemFree %ld kB\nheld\n", taken, above_low_kb(),
	       meminfo("MemFree"));
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	taken = fill_to(near_kb);
	if (taken < 0)
		return 2;
	printf("took %ld MiB more, %ld kB above the low watermarks, MemFree %ld kB\nnear\n", taken, above_low_kb(),
	       meminfo("MemFree"));
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	before = key_value(argv[3], argv[4]);
	if (before < 0) {
		fprintf(stderr, "no \"%s\" line in %s\n", argv[4], argv[3]);
		return 2;
	}
	now = before;
	while (now == before && more < max_mb) {
		/*
		 * Below the low watermarks kswapd is awake: up to 5 s for it
		 * (it calls the shrinkers) before taking more, so that the
		 * hog waits for reclaim as a throttled task would, rather
		 * than pushing every zone to its min watermark, where the
		 * kernel's own unmovable allocations (page tables, stacks),
		 * which cannot use the CMA pages given back, end in the OOM
		 * killer.
		 */
		for (int i = 0; i < 100 && now == before && above_low_kb() < 0; i++) {
			usleep(50000);
			now = key_value(argv[3], argv[4]);
		}
		if (now != before)
			break;
		if (!take(1, 0)) {
			perror("mmap");
			return 2;
		}
		more++;
		now = key_value(argv[3], argv[4]);
	}
	printf("%s %lld -> %lld after %ld MiB more, %ld kB above the low watermarks, MemFree %ld kB\n", argv[4],
	       before, now, more, above_low_kb(), meminfo("MemFree"));
	return now == before;
}
