/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"

int map_aligned(int fd, size_t size, size_t alignment, void **addr)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t reserve, head, tail;
	uintptr_t start, aligned;
	void *p;

	if (alignment <= page) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return -errno;
		*addr = p;
		return 0;
	}

	/* Reserve enough address space to find an aligned start in it. */
	if (size > SIZE_MAX - alignment)
		return -ENOMEM;
	reserve = size + alignment;
	p = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	start = (uintptr_t)p;
	aligned = (start + alignment - 1) & ~(uintptr_t)(alignment - 1);
	if (mmap((void *)aligned, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
	    MAP_FAILED) {
		int r = -errno;
		munmap(p, reserve);
		return r;
	}
	head = aligned - start;
	tail = reserve - head - size;
	if (head)
		munmap(p, head);
	if (tail)
		munmap((void *)(aligned + size), tail);
	*addr = (void *)aligned;
	return 0;
}
