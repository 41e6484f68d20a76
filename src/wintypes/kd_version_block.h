/* SPDX-License-Identifier: MIT */
/* DBGKD_GET_VERSION64, the block at nt!KdVersionBlock, as named offsets. */
#ifndef R2D_WINTYPES_KD_VERSION_BLOCK_H
#define R2D_WINTYPES_KD_VERSION_BLOCK_H

/* Offsets relative to the block (docs/formats/windows-layouts.md section 7). */
#define R2D_KVB_SIZE 0x28

#define R2D_KVB_OFF_MAJOR_VERSION 0x00         /* u16 */
#define R2D_KVB_OFF_MINOR_VERSION 0x02         /* u16, the build number */
#define R2D_KVB_OFF_PROTOCOL_VERSION 0x04      /* u8 */
#define R2D_KVB_OFF_KD_SECONDARY 0x05          /* u8 KdSecondaryVersion */
#define R2D_KVB_OFF_FLAGS 0x06                 /* u16, R2D_KVB_FLAG_* */
#define R2D_KVB_OFF_MACHINE_TYPE 0x08          /* u16 */
#define R2D_KVB_OFF_MAX_PACKET_TYPE 0x0a       /* u8, then MaxStateChange, MaxManipulate, Simulation */
#define R2D_KVB_OFF_UNUSED 0x0e                /* u16 */
#define R2D_KVB_OFF_KERNBASE 0x10              /* u64 */
#define R2D_KVB_OFF_PS_LOADED_MODULE_LIST 0x18 /* u64 */
#define R2D_KVB_OFF_DEBUGGER_DATA_LIST 0x20    /* u64, head of the list that holds the KDBG */

#define R2D_KVB_FLAG_MP 0x1u
#define R2D_KVB_FLAG_DEBUGGER_DATA_LIST 0x2u /* DebuggerDataList is valid */
#define R2D_KVB_FLAG_PTR64 0x4u

#define R2D_KVB_MAJOR_FREE_BUILD 0xfu         /* MajorVersion of a free (retail) build */
#define R2D_KVB_KD_SECONDARY_AMD64_CONTEXT 2u /* KdSecondaryVersion on x64 */

_Static_assert(R2D_KVB_OFF_DEBUGGER_DATA_LIST + 8 == R2D_KVB_SIZE, "DBGKD_GET_VERSION64 size");

#endif
