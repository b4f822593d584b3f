// Reading /proc files, shared by procstat.c and shim.c (private to this target).
#pragma once
#include <sys/types.h>

/// Reads a small file (a /proc entry) into `buffer`, NUL-terminated; its length, or -1.
ssize_t jobd_read_small(const char *path, char *buffer, size_t size);

/// Field `number` (as proc(5) counts them, from 3) of a /proc/PID/stat text: counted after the last ')',
/// since the command may hold spaces and parentheses. -1 when the text is too short.
long long jobd_stat_field(const char *text, int number);
