/* SPDX-License-Identifier: MIT */
/* --info as text: the summary an examiner reads first, then (with -v) every other value, once. */
#ifndef R2D_ENGINE_INFO_TEXT_H
#define R2D_ENGINE_INFO_TEXT_H

#include <jansson.h>
#include <stdio.h>

/*
 * Print info (r2d_info's description) to out: one "Label  value" line per fact the summary knows (input and
 * format, OS, kernel and PDB, symbols or where to fetch them, system time and uptime, processors, RAM,
 * KDBG, what a conversion would write or what the dump holds, warnings, where the analysis stopped). With
 * detail, every value the summary did not show follows as an indented tree; FILETIMEs are dates.
 */
void r2d_info_print_text(const json_t *info, FILE *out, int detail);

#endif
