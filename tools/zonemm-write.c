// SPDX-License-Identifier: GPL-2.0
/*
 * zonemm-write: one write(2) of arbitrary bytes to a file, and a check of
 * its result, for the generated hostile-input scenario (scripts/fuzz-gen).
 * A shell's redirection can neither write a NUL nor tell EINVAL from
 * ENOENT; this can.
 *
 * zonemm-write [-b|-s] FILE HEX EXPECT
 *	Writes the bytes spelled by HEX (two hex digits each; "-" for none)
 *	to FILE in one write(), or with -b one byte per write() (each a
 *	command of its own), or with -s the argument itself as text, and
 *	checks every write's result against
 *	EXPECT: "ok", an errno name (EINVAL, EBUSY, ...), or several joined
 *	by '|'. Exit 0 if every write matched; else prints one line naming
 *	the file, the bytes, what happened and what was expected, and exits
 *	1. A missing file is ENOENT, never a refusal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	int err;
	const char *name;
} names[] = {
	{ 0, "ok" }, { EINVAL, "EINVAL" }, { EBUSY, "EBUSY" }, { ENOMEM, "ENOMEM" },
	{ ENOENT, "ENOENT" }, { EPERM, "EPERM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EIO, "EIO" }, { ENODEV, "ENODEV" }, { E2BIG, "E2BIG" }, { ERANGE, "ERANGE" },
	{ ENOSPC, "ENOSPC" }, { EEXIST, "EEXIST" },
};

static const char *name_of(int err)
{
	static char buf[16];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(buf, sizeof(buf), "errno%d", err);
	return buf;
}

/* Whether `got` is one of the '|'-separated names in `expect`. */
static int expected(const char *expect, const char *got)
{
	size_t n = strlen(got);
	const char *p = expect;

	while (p && *p) {
		if (!strncmp(p, got, n) && (p[n] == '|' || p[n] == '\0'))
			return 1;
		p = strchr(p, '|');
		if (p)
			p++;
	}
	return 0;
}

static int unhex(const char *hex, unsigned char **out, size_t *len)
{
	size_t n = strlen(hex), i;

	*len = 0;
	*out = malloc(n / 2 + 1);
	if (!*out)
		return -1;
	if (!strcmp(hex, "-"))
		return 0;
	if (n % 2)
		return -1;
	for (i = 0; i < n; i += 2) {
		unsigned int b;

		if (sscanf(hex + i, "%2x", &b) != 1)
			return -1;
		(*out)[(*len)++] = (unsigned char)b;
	}
	return 0;
}

/* One write of len bytes; the errno name of its result. */
static const char *write_once(const char *path, const unsigned char *buf, size_t len)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return name_of(errno);
	n = write(fd, buf, len);
	if (n < 0) {
		int err = errno;

		close(fd);
		return name_of(err);
	}
	close(fd);
	return (size_t)n == len ? "ok" : "short";
}

int main(int argc, char **argv)
{
	int bytewise = argc > 1 && !strcmp(argv[1], "-b");
	int text = argc > 1 && !strcmp(argv[1], "-s");
	int opt = bytewise || text;
	const char *path, *hex, *expect, *got;
	unsigned char *buf;
	size_t len, i;

	if (argc != 4 + opt) {
		fprintf(stderr, "usage: zonemm-write [-b|-s] FILE HEX EXPECT\n");
		return 2;
	}
	path = argv[1 + opt];
	hex = argv[2 + opt];
	expect = argv[3 + opt];
	if (text) {
		buf = (unsigned char *)strdup(hex);
		len = strlen(hex);
	} else if (unhex(hex, &buf, &len)) {
		fprintf(stderr, "zonemm-write: bad hex '%s'\n", hex);
		return 2;
	}
	if (!bytewise || len == 0) {
		got = write_once(path, buf, len);
		if (expected(expect, got))
			return 0;
		printf("mismatch: %s <%s>: %s, expected %s\n", path, hex, got, expect);
		return 1;
	}
	for (i = 0; i < len; i++) {
		got = write_once(path, buf + i, 1);
		if (!expected(expect, got)) {
			printf("mismatch: %s <%s> byte %zu (%02x): %s, expected %s\n",
			       path, hex, i, buf[i], got, expect);
			return 1;
		}
	}
	return 0;
}
