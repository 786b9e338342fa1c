/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "bus-open.h"

int bus_open(const char *which, sd_bus **bus)
{
	int r;

	*bus = NULL;
	if (strcmp(which, "system") == 0)
		return sd_bus_open_system(bus);
	if (strcmp(which, "session") == 0)
		return sd_bus_open_user(bus);
	r = sd_bus_new(bus);
	if (r >= 0)
		r = sd_bus_set_address(*bus, which);
	if (r >= 0)
		r = sd_bus_set_bus_client(*bus, 1);
	if (r >= 0)
		r = sd_bus_start(*bus);
	if (r < 0)
		*bus = sd_bus_unref(*bus);
	return r;
}
