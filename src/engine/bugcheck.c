/* SPDX-License-Identifier: MIT */
/*
 * The bug checks people name on a command line, by the names of Microsoft's bug check code reference. A
 * converted live image is LIVE_SYSTEM_DUMP (the default) or, to look like a crash forced from the keyboard,
 * MANUALLY_INITIATED_CRASH; the others are there so that a header can repeat the code of a known crash.
 */
#include <stddef.h>
#include <strings.h>

#include "raw2dmp/convert.h"

static const struct {
    const char *name;
    uint32_t code;
} bugchecks[] = {
    {"IRQL_NOT_LESS_OR_EQUAL", 0x0A},      {"MEMORY_MANAGEMENT", 0x1A},
    {"KMODE_EXCEPTION_NOT_HANDLED", 0x1E}, {"SYSTEM_SERVICE_EXCEPTION", 0x3B},
    {"PAGE_FAULT_IN_NONPAGED_AREA", 0x50}, {"KERNEL_DATA_INPAGE_ERROR", 0x7A},
    {"INACCESSIBLE_BOOT_DEVICE", 0x7B},    {"SYSTEM_THREAD_EXCEPTION_NOT_HANDLED", 0x7E},
    {"UNEXPECTED_KERNEL_MODE_TRAP", 0x7F}, {"NMI_HARDWARE_FAILURE", 0x80},
    {"DRIVER_POWER_STATE_FAILURE", 0x9F},  {"DRIVER_IRQL_NOT_LESS_OR_EQUAL", 0xD1},
    {"MANUALLY_INITIATED_CRASH", 0xE2},    {"CRITICAL_PROCESS_DIED", 0xEF},
    {"CLOCK_WATCHDOG_TIMEOUT", 0x101},     {"CRITICAL_STRUCTURE_CORRUPTION", 0x109},
    {"VIDEO_TDR_FAILURE", 0x116},          {"WHEA_UNCORRECTABLE_ERROR", 0x124},
    {"DPC_WATCHDOG_VIOLATION", 0x133},     {"KERNEL_SECURITY_CHECK_FAILURE", 0x139},
    {"LIVE_SYSTEM_DUMP", 0x161},           {"MANUALLY_INITIATED_CRASH1", 0xDEADDEAD},
};

#define BUGCHECK_COUNT (sizeof(bugchecks) / sizeof(bugchecks[0]))

int
r2d_bugcheck_code(const char *name, uint32_t *code)
{
    for (size_t i = 0; name && i < BUGCHECK_COUNT; i++) {
        if (strcasecmp(bugchecks[i].name, name) == 0) {
            *code = bugchecks[i].code;
            return 0;
        }
    }
    return R2D_ENOTFOUND;
}

const char *
r2d_bugcheck_name(uint32_t code)
{
    for (size_t i = 0; i < BUGCHECK_COUNT; i++)
        if (bugchecks[i].code == code)
            return bugchecks[i].name;
    return NULL;
}
