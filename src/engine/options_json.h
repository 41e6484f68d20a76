/* SPDX-License-Identifier: MIT */
/* The conversion options as JSON: one spelling for the report and for r2d_options_json's callers. */
#ifndef R2D_ENGINE_OPTIONS_JSON_H
#define R2D_ENGINE_OPTIONS_JSON_H

#include <jansson.h>

#include "raw2dmp/convert.h"

/* The report's "options" object (new reference; NULL when out of memory). */
json_t *r2d_options_to_json(const struct r2d_options *opts);

#endif
