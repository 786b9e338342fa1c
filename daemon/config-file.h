/* SPDX-License-Identifier: MIT */
/*
 * /etc/iobufd/iobufd.conf, an INI file:
 *
 *   [daemon]
 *   heaps = dma-heap/system,memfd   ; as --heaps (read at start only)
 *   contiguous-heaps = linux,cma    ; as --contiguous-heaps (start only)
 *   max-clients = 256               ; as --max-clients (start only)
 *   memory-pressure = some 200000 2000000
 *                                   ; as --memory-pressure, also on reload: a PSI
 *                                   ; trigger "some|full STALL_US WINDOW_US" that
 *                                   ; purges every volatile buffer, or off
 *
 *   [limits]
 *   max-buffer-size = 512M          ; any name of limits.h, BYTES with K/M/G
 *   max-uid-bytes = 4G
 *
 *   [uid 1000]                      ; also [unit GLOB], [cgroup GLOB], [heap NAME]
 *   max-bytes = 1G
 *   max-buffers = 1000
 */
#ifndef IOBUFD_CONFIG_FILE_H
#define IOBUFD_CONFIG_FILE_H

#include <stdbool.h>

#include "core/limits.h"
#include "core/pressure.h"

struct file_settings {
	char heaps[256];      /* "" when the file names none */
	char contiguous[256];
	unsigned max_clients; /* 0 when the file says nothing */
	char memory_pressure[PRESSURE_TRIGGER_MAX]; /* a trigger or "off"; "" when unsaid */
};

/*
 * Reads path over the defaults into *limits and *settings. A missing file
 * is an error only when must_exist. 0, or a negative errno after logging
 * "path:line: what is wrong"; the outputs are then unchanged.
 */
int config_file_load(const char *path, bool must_exist, struct limits *limits,
		     struct file_settings *settings);

#endif
