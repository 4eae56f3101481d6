// SPDX-License-Identifier: GPL-2.0
/*
 * ksm-bench: how fast the kernel's own KSM merges duplicate pages, for
 * zonemm's merge benchmark. Maps two halves of PAGES pages each, page p of
 * each half holding byte (p % 251) + 1 in its first 64 bytes (as zonemm's
 * side does), makes them mergeable (PR_SET_MEMORY_MERGE, which needs no
 * madvise() in the kernel), starts ksmd at full speed, and times it until
 * pages_sharing is what the contents allow.
 *
 * Usage: ksm-bench PAGES   (prints one key=value line)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static void ksm_write(const char *knob, const char *value)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", knob);
	f = fopen(path, "w");
	if (!f || fputs(value, f) < 0 || fclose(f)) {
		fprintf(stderr, "ksm-bench: cannot write %s\n", path);
		exit(1);
	}
}

static long ksm_read(const char *knob)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", knob);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long pages = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024;
	unsigned long distinct = pages < 251 ? pages : 251;
	unsigned long want = 2 * pages - distinct, p;
	size_t len = 2 * pages * PAGE;
	double t0, t1;
	char *mem;
	long sharing = 0;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("ksm-bench: mmap");
		return 1;
	}
	for (p = 0; p < 2 * pages; p++)
		memset(mem + p * PAGE, (int)((p % pages) % 251 + 1), 64);
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) {
		perror("ksm-bench: prctl(PR_SET_MEMORY_MERGE)");
		return 1;
	}
	ksm_write("pages_to_scan", "100000");
	ksm_write("sleep_millisecs", "0");
	t0 = now();
	ksm_write("run", "1");
	while (now() - t0 < 60) {
		sharing = ksm_read("pages_sharing");
		if (sharing >= (long)want)
			break;
		usleep(1000);
	}
	t1 = now();
	ksm_write("run", "2");
	printf("ksm_mib_per_s_x1000=%.0f merged_pages=%ld\n",
	       sharing * PAGE / (t1 - t0) / (1 << 20) * 1000, sharing);
	return sharing >= (long)want ? 0 : 1;
}
