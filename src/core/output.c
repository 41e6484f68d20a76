/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the real module. */
typedef int r2d_placeholder_output;
