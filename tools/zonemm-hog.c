// SPDX-License-Identifier: GPL-2.0
/*
 * zonemm-hog: a memory hog that sends the guest's kernel into its own
 * reclaim (kswapd's balance_pgdat(), and through it shrink_slab(): every
 * registered shrinker, zonemm's among them), as a process that wants more
 * memory than is free does on any machine. The guest has no swap, so the
 * kernel can take nothing from the hog itself.
 *
 *   zonemm-hog FILE KEY BASELINE
 *
 * Free memory is counted per zone as the page allocator counts it for the
 * hog's movable pages (/proc/zoneinfo): a zone's free pages less its
 * watermark and its largest lowmem_reserve ("protection"), summed over
 * the zones that have any to spare. The hog takes anonymous memory (every
 * page written; 64 MiB at a time while far above the low watermarks, then
 * a MiB at a time), and after each MiB reads the "KEY value" line of FILE
 * (e.g. zonemm's buddy/stats): once the value is above BASELINE it stops
 * taking. It also stops when the pages above the min watermarks fall to
 * 96 MiB (kswapd wakes at the low watermarks, which the scenario sets far
 * above min with vm.watermark_scale_factor), and then waits up to 30 s
 * for the value. Either way it prints one line ("reclaimed" or "not
 * reclaimed", with the numbers), then "done", and keeps its memory until
 * a line arrives on stdin: exit 0 if the value rose, 1 if not, 2 on an
 * error. Its oom_score_adj is 1000: if the OOM killer is called after
 * all, it takes the hog and nothing else.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1UL << 20)
#define PAGE_KB 4

/* Free kB above the low (room[0]) and min (room[1]) watermarks, or 0 on error. */
static int rooms(long room[2])
{
	char line[512], *p;
	long free = 0, min = 0, low = 0, prot, v;
	int zones = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return 0;
	room[0] = room[1] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " pages free %ld", &v) == 1)
			free = v;
		else if (sscanf(line, " min %ld", &v) == 1)
			min = v;
		else if (sscanf(line, " low %ld", &v) == 1)
			low = v;
		else if ((p = strstr(line, "protection: ("))) {
			/* Printed after the watermarks: the zone is complete. */
			prot = 0;
			for (p += strlen("protection: ("); *p && *p != ')'; p++) {
				v = strtol(p, &p, 10);
				if (v > prot)
					prot = v;
				if (*p == ')')
					break;
			}
			if (free - low - prot > 0)
				room[0] += (free - low - prot) * PAGE_KB;
			if (free - min - prot > 0)
				room[1] += (free - min - prot) * PAGE_KB;
			zones++;
		}
	}
	fclose(f);
	return zones > 0;
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
 * under TCG, filling the guest's memory a page at a time takes minutes).
 */
static int take(unsigned long mib)
{
	char *p = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 0;
	madvise(p, mib * MIB, mib > 1 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (unsigned long off = 0; off < mib * MIB; off += 4096)
		p[off] = 1;
	return 1;
}

int main(int argc, char **argv)
{
	long room[2], taken = 0;
	long long baseline, now;
	char *end, line[16];
	FILE *adj;
	int i;

	if (argc != 4 || (baseline = strtoll(argv[3], &end, 10)) < 0 || *end) {
		fprintf(stderr, "usage: zonemm-hog FILE KEY BASELINE\n");
		return 2;
	}
	adj = fopen("/proc/self/oom_score_adj", "w");
	if (!adj || fputs("1000\n", adj) < 0 || fclose(adj)) {
		perror("oom_score_adj");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	now = key_value(argv[1], argv[2]);
	if (now < 0) {
		fprintf(stderr, "no \"%s\" line in %s\n", argv[2], argv[1]);
		return 2;
	}
	while (now <= baseline) {
		if (!rooms(room)) {
			fprintf(stderr, "cannot read /proc/zoneinfo\n");
			return 2;
		}
		if (room[1] <= 96 * 1024)
			break;
		if (!take(room[0] > 256 * 1024 ? 64 : 1)) {
			perror("mmap");
			return 2;
		}
		taken += room[0] > 256 * 1024 ? 64 : 1;
		now = key_value(argv[1], argv[2]);
	}
	for (i = 0; i < 300 && now <= baseline; i++) {
		usleep(100000);
		now = key_value(argv[1], argv[2]);
	}
	rooms(room);
	printf("%s: %s %lld -> %lld, %ld MiB taken, %ld kB above the low watermarks, %ld kB above min\n",
	       now > baseline ? "reclaimed" : "not reclaimed", argv[2], baseline, now, taken, room[0], room[1]);
	printf("done\n");
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	return now <= baseline;
}
