/* SPDX-License-Identifier: MIT */
/*
 * A miniature 32-bit kernel for the PE32 and x86 PDB tests: compiled by clang for i686-pc-windows-msvc with
 * CodeView and linked by lld-link /machine:x86 /debug into ntkrnlpa.dll + ntkrnlpa.pdb (tests/engine/
 * meson.build). The layouts follow the x86 facts of ../shared/testdata/isf32/README.md: _KPCR.SelfPcr at
 * 0x1c, the Prcb pointer at 0x20, PrcbData at 0x120; _KPRCB.ProcessorState at 0x18 (Windows 7 and 10); the
 * static_asserts pin them, so the test compares the PDB against numbers it did not compute.
 */
#include <stddef.h>

struct _CONTEXT {
    unsigned long ContextFlags;
    unsigned char rest[0x2cc - 4];
};

struct _KPROCESSOR_STATE {
    struct _CONTEXT ContextFrame;
    unsigned char SpecialRegisters[0x54];
};

struct _KPRCB {
    unsigned short MinorVersion;
    unsigned short MajorVersion;
    struct _KTHREAD *CurrentThread;
    struct _KTHREAD *NextThread;
    struct _KTHREAD *IdleThread;
    unsigned char LegacyNumber;
    unsigned char NestingLevel;
    unsigned short BuildType;
    unsigned long SetMember;
    struct _KPROCESSOR_STATE ProcessorState;
    unsigned char pad[0x3cc - 0x18 - sizeof(struct _KPROCESSOR_STATE)];
    unsigned long Number;
    struct _CONTEXT *Context;
};

struct _KPCR {
    void *NtTib[7];
    struct _KPCR *SelfPcr;
    struct _KPRCB *Prcb;
    unsigned char Irql;
    unsigned char pad[0x120 - 0x25];
    struct _KPRCB PrcbData;
};

_Static_assert(sizeof(void *) == 4, "an i686 build");
_Static_assert(offsetof(struct _KPCR, SelfPcr) == 0x1c, "_KPCR.SelfPcr");
_Static_assert(offsetof(struct _KPCR, Prcb) == 0x20, "_KPCR.Prcb");
_Static_assert(offsetof(struct _KPCR, PrcbData) == 0x120, "_KPCR.PrcbData");
_Static_assert(offsetof(struct _KPRCB, ProcessorState) == 0x18, "_KPRCB.ProcessorState");
_Static_assert(offsetof(struct _KPRCB, Number) == 0x3cc, "_KPRCB.Number");
_Static_assert(offsetof(struct _KPRCB, Context) == 0x3d0, "_KPRCB.Context");

struct _KPCR KiInitialPcr;
struct _KPRCB *KiProcessorBlock[32] = {&KiInitialPcr.PrcbData};
unsigned char KeNumberProcessors = 1;
unsigned long long KdDebuggerDataBlock[0x360 / 8] = {0, 0, 0x000003604742444bull};
unsigned char KdpDataBlockEncoded = 1;
unsigned long KiWaitNever = 0x91a3d4c7u;
unsigned long KiWaitAlways = 0x5b6a7988u;

__declspec(dllexport) int
KeBugCheckEx(int code)
{
    return code + KeNumberProcessors;
}
