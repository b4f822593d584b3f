#define _GNU_SOURCE
#include "CJobdSystem.h"
#include "proc_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Written in C rather than Swift because the sampler reads one small file per process of the
// machine several times a second: no allocation per file, no String decoding (issue 10).

/// Reads up to `size - 1` bytes of a small file and NUL-terminates them. Returns the length or -1.
ssize_t jobd_read_small(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t count;
    do {
        count = read(fd, buffer, size - 1);
    } while (count < 0 && errno == EINTR);
    close(fd);
    if (count <= 0) return -1;
    buffer[count] = 0;
    return count;
}

long long jobd_stat_field(const char *text, int number) {
    const char *field = strrchr(text, ')');
    if (!field || number < 3) return -1;
    for (int index = 3; index <= number; index++) {
        field = strchr(field + 1, ' ');
        if (!field) return -1;
    }
    return strtoll(field + 1, NULL, 10);
}

static int contains(const int32_t *sorted, int count, int32_t value) {
    int low = 0, high = count - 1;
    while (low <= high) {
        int mid = low + (high - low) / 2;
        if (sorted[mid] == value) return 1;
        if (sorted[mid] < value) low = mid + 1; else high = mid - 1;
    }
    return 0;
}

/// All-digit directory names are processes.
static int is_pid_name(const char *name, int32_t *pid) {
    long value = 0;
    if (*name == 0) return 0;
    for (const char *c = name; *c; c++) {
        if (*c < '0' || *c > '9') return 0;
        value = value * 10 + (*c - '0');
        if (value > 0x7fffffff) return 0;
    }
    *pid = (int32_t)value;
    return 1;
}

/// Parses /proc/PID/stat text. Returns 1 when every field needed was there.
static int parse_stat(int32_t pid, char *text, struct jobd_proc_sample *out) {
    // The command name may hold spaces and parentheses: fields restart after the last ')'.
    char *close = strrchr(text, ')');
    if (!close || close[1] == 0) return 0;
    char state = 0;
    int pgrp = 0;
    unsigned long utime = 0, stime = 0;
    long threads = 0, rss = 0;
    // Fields 3 (state) to 24 (rss); those not needed are skipped with %*.
    int got = sscanf(close + 2,
        "%c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %ld %*d %*llu %*lu %ld",
        &state, &pgrp, &utime, &stime, &threads, &rss);
    if (got != 6) return 0;
    *out = (struct jobd_proc_sample){
        .pid = pid, .pgrp = pgrp, .state = state, .threads = (int32_t)threads,
        .ticks = (int64_t)(utime + stime), .rss_pages = rss};
    return 1;
}

int jobd_scan_process(int32_t pid, struct jobd_proc_sample *out) {
    char path[64];
    char text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (jobd_read_small(path, text, sizeof text) < 0) return -1;
    return parse_stat(pid, text, out) ? 0 : -1;
}

int jobd_scan_groups(const int32_t *pgids, int count, struct jobd_proc_sample *out, int capacity) {
    DIR *proc = opendir("/proc");
    if (!proc) return -errno;
    int found = 0;
    char path[64];
    char text[1024];
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        int32_t pid;
        if (!is_pid_name(entry->d_name, &pid)) continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        if (jobd_read_small(path, text, sizeof text) < 0) continue;  // gone since readdir
        struct jobd_proc_sample sample;
        if (!parse_stat(pid, text, &sample) || !contains(pgids, count, sample.pgrp)) continue;
        if (found < capacity) out[found] = sample;
        found++;
    }
    closedir(proc);
    return found;
}

/// The value of a "name:\tN" line of a status file, or 0.
static int64_t status_field(const char *text, const char *name) {
    const char *at = strstr(text, name);
    return at ? strtoll(at + strlen(name), NULL, 10) : 0;
}

/// `base` is /proc/PID or /proc/PID/task/TID.
static int read_task(const char *base, int32_t tid, struct jobd_task_stat *out) {
    char path[128];
    char text[128];
    snprintf(path, sizeof path, "%s/schedstat", base);
    if (jobd_read_small(path, text, sizeof text) < 0) return 0;
    long long run = 0, wait = 0;
    if (sscanf(text, "%lld %lld", &run, &wait) != 2) return 0;
    *out = (struct jobd_task_stat){.tid = tid, .run_ns = run, .wait_ns = wait};
    // ~1.4 KB of text; the switch counts are its last lines. The leading newline keeps
    // "voluntary_ctxt_switches" from matching inside "nonvoluntary_ctxt_switches".
    char status[4096];
    snprintf(path, sizeof path, "%s/status", base);
    if (jobd_read_small(path, status, sizeof status) > 0) {
        out->voluntary = status_field(status, "\nvoluntary_ctxt_switches:");
        out->involuntary = status_field(status, "\nnonvoluntary_ctxt_switches:");
    }
    return 1;
}

int jobd_read_task_stats(int32_t pid, int32_t threads, struct jobd_task_stat *out, int capacity) {
    char path[96];
    if (capacity <= 0) return 0;
    if (threads <= 1) {
        // /proc/PID/schedstat is the thread-group leader's own task: the whole process when it has one.
        snprintf(path, sizeof path, "/proc/%d", pid);
        return read_task(path, pid, out);
    }
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *tasks = opendir(path);
    if (!tasks) return -errno;
    int found = 0;
    struct dirent *entry;
    while (found < capacity && (entry = readdir(tasks)) != NULL) {
        int32_t tid;
        if (!is_pid_name(entry->d_name, &tid)) continue;
        snprintf(path, sizeof path, "/proc/%d/task/%d", pid, tid);
        found += read_task(path, tid, out + found);
    }
    closedir(tasks);
    return found;
}
