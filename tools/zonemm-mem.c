// SPDX-License-Identifier: GPL-2.0
/*
 * zonemm-mem: user-space memory from zonemm's pool through /dev/zonemm,
 * the way one tries KSM with a few lines of C (include/uapi/zonemm.h).
 *
 *   zonemm-mem map PAGES [populate] [hold]  map, touch every page, print
 *       the process's figures; with hold, print "held" and wait for a
 *       signal before unmapping
 *   zonemm-mem merge PAGES [hold]           map, fill every page alike,
 *       mark the mapping mergeable, print the figures
 *   zonemm-mem fork PAGES                   parent and child share the
 *       mapping: each sees the other's writes
 *   zonemm-mem split PAGES                  munmap the second page: two
 *       VMAs of one area; waits for a line on stdin before unmapping them
 *   zonemm-mem two PAGES                    two mappings never share
 *   zonemm-mem pair PAGES                   two processes fill their own
 *       mappings alike and mark them mergeable; once the merger shares
 *       every page, each writes a page the other must not see
 *   zonemm-mem stale PAGES MORE             fill alike, mark, keep reading
 *       every page until merged, then take MORE new pages and fill them
 *       0x77: the merged mapping must still read 0x5a (no PTE was left
 *       on a frame the merger freed)
 *   zonemm-mem scatter PAGES MORE           two mappings touched page by page
 *       in turn, the second unmapped: the first's pages have holes
 *       between them; prints "scattered", waits for a line on stdin
 *       (the scenario compacts), takes MORE pages and writes them 0x77,
 *       then checks every page of the first (no PTE was left on a frame
 *       compaction freed)
 *   zonemm-mem forked PAGES                 fill alike, mark, wait until
 *       merged, fork; the child writes a merged page, which both see
 *       (MAP_SHARED) while the others stay merged
 *   zonemm-mem mrounds N PAGES              N map/fill alike/mark/wait until
 *       every page is merged/check/unmap rounds
 *   zonemm-mem rounds N PAGES               N map/fill/mark/check/unmap
 *   zonemm-mem hostile                      bad calls: each refused,
 *       nothing changed
 *   zonemm-mem open-as UID                  open(2) as UID: prints the
 *       error, or maps and writes 16 pages
 *
 * Lines are "name value" or "ok ..."/"FAIL ..."; the exit status is 0
 * when every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zonemm.h"

#define DEV "/dev/zonemm"

static long page;
static int failures;

static void check(int cond, const char *what)
{
	printf("%s %s\n", cond ? "ok" : "FAIL", what);
	if (!cond)
		failures++;
}

static int dev_open(void)
{
	int fd = open(DEV, O_RDWR);

	if (fd < 0) {
		perror(DEV);
		exit(2);
	}
	return fd;
}

static char *map(int fd, long pages, int flags)
{
	char *p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_SHARED | flags, fd, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static struct zonemm_stat stat_of(int fd)
{
	struct zonemm_stat s;

	if (ioctl(fd, ZONEMM_IOC_STAT, &s)) {
		perror("ZONEMM_IOC_STAT");
		exit(2);
	}
	return s;
}

static void print_stat(int fd)
{
	struct zonemm_stat s = stat_of(fd);

	printf("mappings %llu\nmapped_pages %llu\nmergeable_pages %llu\n"
	       "ksm_rmap_items %llu\nksm_merging_pages %llu\nksm_process_profit %lld\n",
	       (unsigned long long)s.mappings, (unsigned long long)s.mapped_pages,
	       (unsigned long long)s.mergeable_pages, (unsigned long long)s.rmap_items,
	       (unsigned long long)s.merging_pages, (long long)s.process_profit);
	fflush(stdout);
}

static int mark(int fd, void *start, unsigned long len, int mergeable)
{
	struct zonemm_range r = { .start = (uintptr_t)start, .len = len };

	return ioctl(fd, mergeable ? ZONEMM_IOC_MERGEABLE : ZONEMM_IOC_UNMERGEABLE, &r);
}

/* Writes a word into each page: the page's number plus seed. */
static void fill(char *p, long pages, long seed)
{
	for (long i = 0; i < pages; i++)
		*(long *)(p + i * page) = i + seed;
}

static int holds(const char *p, long pages, long seed)
{
	for (long i = 0; i < pages; i++)
		if (*(const long *)(p + i * page) != i + seed)
			return 0;
	return 1;
}

static void hold(void)
{
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}

static int cmd_map(long pages, int argc, char **argv)
{
	int populate = 0, wait = 0, fd = dev_open();
	char *p;
	long i;

	for (i = 0; i < argc; i++) {
		populate |= !strcmp(argv[i], "populate");
		wait |= !strcmp(argv[i], "hold");
	}
	p = map(fd, pages, populate ? MAP_POPULATE : 0);
	printf("before touching:\n");
	print_stat(fd);
	for (i = 0; i < pages; i++)
		if (*(long *)(p + i * page) != 0)
			break;
	check(i == pages, "every new page reads as zero");
	fill(p, pages, 7);
	check(holds(p, pages, 7), "every page holds its write");
	print_stat(fd);
	if (wait)
		hold();
	check(munmap(p, pages * page) == 0, "munmap");
	print_stat(fd);
	return failures != 0;
}

static int cmd_merge(long pages, int argc, char **argv)
{
	int fd = dev_open();
	char *p = map(fd, pages, 0);

	for (long i = 0; i < pages; i++)
		memset(p + i * page, 0x5a, page);
	check(mark(fd, p, pages * page, 1) == 0, "ZONEMM_IOC_MERGEABLE");
	print_stat(fd);
	if (argc > 0 && !strcmp(argv[0], "hold"))
		hold();
	return failures != 0;
}

static int cmd_fork(long pages)
{
	int fd = dev_open(), status;
	char *p = map(fd, pages, 0);
	pid_t pid;

	fill(p, pages, 100);
	check(mark(fd, p, pages * page, 1) == 0, "parent: ZONEMM_IOC_MERGEABLE");
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		struct zonemm_stat s = stat_of(fd);

		check(holds(p, pages, 100), "child: sees the parent's data");
		check(s.mappings == 1 && s.mapped_pages == (unsigned long long)pages &&
		      s.mergeable_pages == (unsigned long long)pages,
		      "child: its figures count the shared mapping");
		fill(p, pages, 200);
		_exit(failures != 0);
	}
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child passed its checks");
	check(holds(p, pages, 200), "parent: sees the child's writes (MAP_SHARED)");
	print_stat(fd);
	check(munmap(p, pages * page) == 0, "munmap");
	return failures != 0;
}

/*
 * munmap of the middle of a mapping splits it in two VMAs; the area keeps
 * its pages until the last part goes, as a shmem file keeps its pages.
 */
static int cmd_split(long pages)
{
	int fd = dev_open();
	char *p = map(fd, pages, 0);
	struct zonemm_stat s;

	fill(p, pages, 11);
	check(munmap(p + page, page) == 0, "munmap of the second page");
	s = stat_of(fd);
	check(s.mappings == 2 && s.mapped_pages == (unsigned long long)pages - 1,
	      "two mappings, the rest of the pages");
	check(holds(p, 1, 11) && holds(p + 2 * page, pages - 2, 13), "both parts keep their data");
	print_stat(fd);
	if (pages > 3)
		check(mark(fd, p, 3 * page, 1) != 0 && errno == EINVAL,
		      "a range over the hole is refused");
	printf("split\n");
	fflush(stdout);
	/* The scenario counts the pool here: wait for a line on stdin. */
	getchar();
	check(munmap(p, page) == 0 && munmap(p + 2 * page, (pages - 2) * page) == 0,
	      "munmap of both parts");
	check(stat_of(fd).mappings == 0, "no mapping left");
	return failures != 0;
}

static int cmd_two(long pages)
{
	int fd = dev_open();
	char *a = map(fd, pages, 0), *b = map(fd, pages, 0);

	fill(a, pages, 1);
	fill(b, pages, 1);
	check(mark(fd, a, pages * page, 1) == 0 && mark(fd, b, pages * page, 1) == 0,
	      "both marked mergeable");
	fill(a, pages, 5);
	check(holds(a, pages, 5), "the writer reads back its write");
	check(holds(b, pages, 1), "the other mapping does not see it");
	print_stat(fd);
	return failures != 0;
}

/*
 * Waits (up to 120 s) until the process's merging_pages is at least
 * want; whether it got there.
 */
static int merged(int fd, unsigned long long want, const char *who)
{
	struct zonemm_stat s;

	for (int i = 0; i < 1200; i++) {
		s = stat_of(fd);
		if (s.merging_pages >= want)
			break;
		usleep(100000);
	}
	printf("%s: ksm_merging_pages %llu ksm_rmap_items %llu ksm_process_profit %lld\n", who,
	       (unsigned long long)s.merging_pages, (unsigned long long)s.rmap_items,
	       (long long)s.process_profit);
	return s.merging_pages >= want;
}

/* One byte through a pipe: a step of the other process. */
static void step_send(int fd)
{
	char c = 1;

	if (write(fd, &c, 1) != 1)
		exit(2);
}

static void step_wait(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		exit(2);
}

static int cmd_pair(long pages)
{
	int to_child[2], to_parent[2], status, fd;
	pid_t pid;
	char *p;
	int child;

	if (pipe(to_child) || pipe(to_parent)) {
		perror("pipe");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	child = pid == 0;
	/* Each process its own mapping, after the fork: two areas. */
	fd = dev_open();
	p = map(fd, pages, 0);
	fill(p, pages, 100);
	check(mark(fd, p, pages * page, 1) == 0, child ? "child: marked" : "parent: marked");
	check(merged(fd, pages, child ? "child" : "parent"),
	      child ? "child: every page merged" : "parent: every page merged");
	if (child) {
		step_wait(to_child[0]);
		*(long *)p = 999;
		check(*(long *)p == 999, "child: reads back its write to a merged page");
		check(holds(p + page, pages - 1, 101), "child: the rest still holds its data");
		step_send(to_parent[1]);
		step_wait(to_child[0]);
		check(holds(p + page, 1, 101), "child: does not see the parent's write");
		check(stat_of(fd).merging_pages == (unsigned long long)pages - 1,
		      "child: one page private again");
		_exit(failures != 0);
	}
	step_send(to_child[1]);
	step_wait(to_parent[0]);
	check(holds(p, pages, 100), "parent: does not see the child's write");
	*(long *)(p + page) = 888;
	check(*(long *)(p + page) == 888, "parent: reads back its write");
	step_send(to_child[1]);
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child passed its checks");
	check(holds(p, 1, 100) && holds(p + 2 * page, pages - 2, 102),
	      "parent: the other pages hold their data");
	print_stat(fd);
	check(munmap(p, pages * page) == 0, "munmap");
	return failures != 0;
}

static int cmd_stale(long pages, long more)
{
	int fd = dev_open(), done = 0, drain;
	char *p = map(fd, pages, 0), *q;
	long sum = 0, i;

	for (i = 0; i < pages; i++)
		memset(p + i * page, 0x5a, page);
	check(mark(fd, p, pages * page, 1) == 0, "marked");
	/* Reads keep read-only PTEs on the pages while the merger works. */
	for (long t = 0; t < 2000000 && !done; t++) {
		for (i = 0; i < pages; i++)
			sum += *(volatile char *)(p + i * page);
		if (t % 16 == 0)
			done = stat_of(fd).merging_pages == (unsigned long long)pages;
	}
	check(done, "every page merged while being read");
	/* The frames the merger freed, off the per-CPU lists, then taken. */
	drain = open("/sys/kernel/debug/zonemm/buddy/drain", O_WRONLY);
	check(drain >= 0 && write(drain, "1", 1) == 1, "buddy/drain");
	q = map(fd, more, 0);
	memset(q, 0x77, more * page);
	for (i = 0; i < pages * page; i++)
		if (p[i] != 0x5a)
			break;
	printf("first byte not 0x5a: %ld of %ld (sum %ld)\n", i, pages * page, sum);
	check(i == pages * page, "the merged mapping still reads 0x5a after the pool's pages were written");
	return failures != 0;
}

static int cmd_scatter(long pages, long more)
{
	int fd = dev_open();
	char *a = map(fd, pages, 0), *b = map(fd, pages, 0), *c;

	for (long i = 0; i < pages; i++) {
		*(long *)(a + i * page) = i + 40;
		*(long *)(b + i * page) = i;
	}
	check(munmap(b, pages * page) == 0, "the second mapping unmapped");
	printf("scattered\n");
	fflush(stdout);
	getchar();
	/* The frames compaction freed, taken and written by someone else. */
	c = map(fd, more, 0);
	memset(c, 0x77, more * page);
	check(holds(a, pages, 40), "every page holds its data after compaction");
	fill(a, pages, 50);
	check(holds(a, pages, 50), "and takes new writes");
	check(stat_of(fd).mapped_pages == (unsigned long long)(pages + more), "no page lost");
	return failures != 0;
}

static int cmd_forked(long pages)
{
	int fd = dev_open(), status;
	char *p = map(fd, pages, 0);
	pid_t pid;

	for (long i = 0; i < pages; i++)
		memset(p + i * page, 0x5a, page);
	check(mark(fd, p, pages * page, 1) == 0, "marked");
	check(merged(fd, pages, "parent"), "every page merged");
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		check(p[0] == 0x5a && p[(pages - 1) * page] == 0x5a, "child: reads the merged pages");
		p[0] = 1;
		check(p[0] == 1 && p[1] == 0x5a, "child: reads back its write");
		_exit(failures != 0);
	}
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child passed its checks");
	check(p[0] == 1 && p[1] == 0x5a, "parent: sees the child's write (MAP_SHARED)");
	check(p[page] == 0x5a && p[(pages - 1) * page + page - 1] == 0x5a, "parent: the other pages unchanged");
	check(stat_of(fd).merging_pages == (unsigned long long)pages - 1, "one page private, the rest merged");
	print_stat(fd);
	check(mark(fd, p, pages * page, 0) == 0 && stat_of(fd).merging_pages == 0,
	      "UNMERGEABLE: every page private again");
	check(p[0] == 1 && p[1] == 0x5a && p[(pages - 1) * page] == 0x5a, "UNMERGEABLE: the data intact");
	check(munmap(p, pages * page) == 0, "munmap");
	return failures != 0;
}

static int cmd_rounds(long n, long pages)
{
	int fd = dev_open();

	for (long r = 0; r < n; r++) {
		char *p = map(fd, pages, 0);
		struct zonemm_stat s;

		fill(p, pages, r);
		if (mark(fd, p, pages * page, 1) || !holds(p, pages, r)) {
			check(0, "a round");
			break;
		}
		s = stat_of(fd);
		if (s.mappings != 1 || s.mapped_pages != (unsigned long long)pages ||
		    s.mergeable_pages != (unsigned long long)pages) {
			check(0, "a round's figures");
			break;
		}
		if (munmap(p, pages * page)) {
			check(0, "munmap");
			break;
		}
	}
	check(failures == 0, "every round filled, marked, checked and unmapped");
	check(stat_of(fd).mappings == 0, "no mapping left");
	return failures != 0;
}

static int cmd_mrounds(long n, long pages)
{
	int fd = dev_open();
	long r;

	for (r = 0; r < n; r++) {
		char *p = map(fd, pages, 0);
		struct zonemm_stat s;
		int t;

		memset(p, (int)(r % 255 + 1), pages * page);
		if (mark(fd, p, pages * page, 1)) {
			check(0, "a round's mark");
			break;
		}
		for (t = 0; t < 2000; t++) {
			s = stat_of(fd);
			if (s.merging_pages == (unsigned long long)pages)
				break;
			usleep(1000);
		}
		if (s.merging_pages != (unsigned long long)pages ||
		    p[0] != (char)(r % 255 + 1) || p[pages * page - 1] != (char)(r % 255 + 1)) {
			printf("round %ld: %llu of %ld pages merged\n", r, s.merging_pages, pages);
			check(0, "a round merged and read back");
			break;
		}
		if (munmap(p, pages * page)) {
			check(0, "munmap");
			break;
		}
	}
	printf("%ld rounds\n", r);
	check(failures == 0, "every round filled, merged, read back and unmapped");
	check(stat_of(fd).mappings == 0, "no mapping left");
	return failures != 0;
}

/* A call that must fail with errno want. */
static void refused(int ret, int want, const char *what)
{
	char line[160];

	snprintf(line, sizeof(line), "%s: refused with %s (got %s)", what, strerror(want),
		 ret == 0 ? "success" : strerror(errno));
	check(ret != 0 && errno == want, line);
}

static int same_stat(struct zonemm_stat a, struct zonemm_stat b)
{
	return !memcmp(&a, &b, sizeof(a));
}

static int cmd_hostile(void)
{
	int fd = dev_open(), rofd = open(DEV, O_RDONLY);
	long pages = 8;
	char *p = map(fd, pages, 0), *q = map(fd, pages, 0);
	char *anon = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct zonemm_stat before;
	struct zonemm_range r;
	void *m;

	fill(p, pages, 3);
	check(mark(fd, p, 2 * page, 1) == 0, "a good range is taken");
	before = stat_of(fd);

	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	refused(m == MAP_FAILED ? -1 : 0, EINVAL, "mmap MAP_PRIVATE");
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, page);
	refused(m == MAP_FAILED ? -1 : 0, EINVAL, "mmap at offset 4096");
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 1L << 40);
	refused(m == MAP_FAILED ? -1 : 0, EINVAL, "mmap at offset 1 TiB");
	m = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	refused(m == MAP_FAILED ? -1 : 0, EINVAL, "mmap PROT_EXEC");
	m = mmap(NULL, 1L << 40, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	refused(m == MAP_FAILED ? -1 : 0, EINVAL, "mmap of 1 TiB (more than the pool)");
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, rofd, 0);
	refused(m == MAP_FAILED ? -1 : 0, EACCES, "mmap PROT_WRITE of a read-only open");
	refused(mprotect(p, page, PROT_READ | PROT_EXEC), EACCES, "mprotect PROT_EXEC");
	m = mremap(p, pages * page, 2 * pages * page, MREMAP_MAYMOVE);
	refused(m == MAP_FAILED ? -1 : 0, EFAULT,
		"mremap to grow");

	{
		/* vmsplice(2) would take references to the pages. */
		struct iovec iov = { p, page };
		int pipefd[2];
		ssize_t n;

		if (pipe(pipefd)) {
			perror("pipe");
			exit(2);
		}
		n = vmsplice(pipefd[1], &iov, 1, 0);
		printf("vmsplice of the mapping: %s\n", n < 0 ? strerror(errno) : "spliced");
		check(n < 0, "vmsplice cannot take the mapping's pages");
		close(pipefd[0]);
		close(pipefd[1]);
	}
	refused(mark(fd, p + 1, page, 1), EINVAL, "unaligned start");
	refused(mark(fd, p, page + 1, 1), EINVAL, "unaligned len");
	refused(mark(fd, p, 0, 1), EINVAL, "len 0");
	refused(mark(fd, p, (pages + 1) * page, 1), EINVAL, "past the mapping's end");
	refused(mark(fd, p + page, -page, 1), EINVAL, "start + len overflows");
	refused(mark(fd, (void *)(uintptr_t)-page, page, 1), EINVAL, "the last page of the address space");
	refused(mark(fd, anon, page, 1), EINVAL, "an anonymous mapping");
	refused(mark(fd, (void *)page, page, 1), EINVAL, "an unmapped address");
	refused(mark(fd, q - page, 2 * page, 1), EINVAL, "across two mappings");
	r = (struct zonemm_range){ .start = (uintptr_t)p, .len = page };
	refused(ioctl(fd, ZONEMM_IOC_MERGEABLE, (void *)16), EFAULT, "an argument at a bad address");
	refused(ioctl(fd, _IOW(ZONEMM_IOC_MAGIC, 9, struct zonemm_range), &r), ENOTTY, "ioctl number 9");
	refused(ioctl(fd, _IOW(ZONEMM_IOC_MAGIC, 1, long), &r), ENOTTY, "MERGEABLE with a wrong size");
	refused(ioctl(fd, 0, 0), ENOTTY, "ioctl 0");
	srand(16);
	for (int i = 0; i < 1000; i++) {
		unsigned int cmd = (unsigned int)rand() * 2654435761u;

		if (cmd == ZONEMM_IOC_MERGEABLE || cmd == ZONEMM_IOC_UNMERGEABLE ||
		    cmd == ZONEMM_IOC_STAT)
			continue;
		if (ioctl(fd, cmd, &r) == 0 || errno != ENOTTY) {
			check(0, "1000 random ioctl numbers: ENOTTY");
			break;
		}
		if (i == 999)
			check(1, "1000 random ioctl numbers: ENOTTY");
	}
	check(same_stat(before, stat_of(fd)), "nothing changed");
	check(holds(p, pages, 3), "the mapping's data is intact");
	check(mark(fd, p, pages * page, 0) == 0, "UNMERGEABLE of the whole mapping");
	check(stat_of(fd).mergeable_pages == 0, "no page mergeable");
	return failures != 0;
}

static int cmd_open_as(uid_t uid)
{
	int fd;

	if (setgid(uid) || setuid(uid)) {
		perror("setuid");
		return 2;
	}
	fd = open(DEV, O_RDWR);
	printf("open as uid %u: %s\n", (unsigned int)uid, fd < 0 ? strerror(errno) : "opened");
	if (fd >= 0) {
		char *p = map(fd, 16, 0);

		fill(p, 16, 9);
		check(holds(p, 16, 9), "16 pages mapped and written");
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: zonemm-mem map|merge|fork|two|pair|stale|forked|scatter PAGES ... | rounds N PAGES | "
			"hostile | open-as UID\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long n;

	page = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "hostile"))
		return cmd_hostile();
	if (argc < 3)
		usage();
	n = strtol(argv[2], NULL, 0);
	if (!strcmp(argv[1], "open-as"))
		return cmd_open_as(n);
	if (n <= 0)
		usage();
	if (!strcmp(argv[1], "map"))
		return cmd_map(n, argc - 3, argv + 3);
	if (!strcmp(argv[1], "merge"))
		return cmd_merge(n, argc - 3, argv + 3);
	if (!strcmp(argv[1], "fork"))
		return cmd_fork(n);
	if (!strcmp(argv[1], "split") && n >= 3)
		return cmd_split(n);
	if (!strcmp(argv[1], "two"))
		return cmd_two(n);
	if (!strcmp(argv[1], "pair") && n >= 2)
		return cmd_pair(n);
	if (!strcmp(argv[1], "scatter") && argc > 3 && strtol(argv[3], NULL, 0) > 0)
		return cmd_scatter(n, strtol(argv[3], NULL, 0));
	if (!strcmp(argv[1], "stale") && n >= 2 && argc > 3 && strtol(argv[3], NULL, 0) > 0)
		return cmd_stale(n, strtol(argv[3], NULL, 0));
	if (!strcmp(argv[1], "forked") && n >= 2)
		return cmd_forked(n);
	if (!strcmp(argv[1], "mrounds") && argc > 3 && strtol(argv[3], NULL, 0) > 0)
		return cmd_mrounds(n, strtol(argv[3], NULL, 0));
	if (!strcmp(argv[1], "rounds") && argc > 3 && strtol(argv[3], NULL, 0) > 0)
		return cmd_rounds(n, strtol(argv[3], NULL, 0));
	usage();
	return 2;
}
