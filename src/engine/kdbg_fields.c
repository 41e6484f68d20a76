/* SPDX-License-Identifier: MIT */
/*
 * Every field of _KDDEBUGGER_DATA64, header included, with its source when rebuilding from symbols
 * (docs/reference/kdbg.md sections 2 and 7). Offsets 0x000-0x338 are agreed by Rekall, Volatility 2/3 and
 * QEMU; the tail comes from public copies of KDDEBUGGER_DATA_ADDITION64.
 */
#include <string.h>

#include "kdbg_fields.h"

#define SYM(off, name, sym) {off, 8, R2D_KF_SYMBOL, name, sym, NULL}
#define OFF16(off, name, type, path) {off, 2, R2D_KF_OFFSET, name, type, path}
#define OFF32(off, name, type, path) {off, 4, R2D_KF_OFFSET, name, type, path}
#define SIZE16(off, name, type) {off, 2, R2D_KF_SIZEOF, name, type, NULL}
#define VALUE(off, w, name) {off, w, R2D_KF_VALUE, name, NULL, NULL}
#define HEADER(off, w, name) {off, w, R2D_KF_HEADER, name, NULL, NULL}
#define IMAGE(off, name) {off, 2, R2D_KF_IMAGE, name, NULL, NULL}
#define UNKNOWN(off, w, name) {off, w, R2D_KF_UNKNOWN, name, NULL, NULL}

/*
 * Sources checked against the four JPCERT ISFs in tests/data/isf (7601, 17763, 19041, 22000). A source a
 * kernel lacks leaves its field 0, and the rebuild lists it as underived:
 * - Symbols absent from all four: KiNormalSystemCall, MmTriageActionTaken, MmSystemCacheStart/End,
 *   MmSystemPtesStart/End, MmNonPagedSystemStart, MmNonPagedPoolEnd, MmPagedPoolStart, MmExtendedCommit,
 *   KdPrintCircularBufferEnd, KdPrintCircularBufferPtr, MmSessionBase/Size, MmSystemParentTablePage,
 *   MmVirtualTranslationBase, VfCrashDataBlock, RetpolineStubFunctionTable.
 * - Windows 10 (17763+) moved most Mm* globals into MiState: MmSubsectionBase ... MmZeroedPageSingleBit-
 *   ErrorsDetected exist only in 7601, MmPagedPoolInfo too; 19041 and 22000 also lack ExpPagedPoolDescriptor,
 *   ExpNumberOfPagedPools and NonPagedPoolDescriptor; 22000 lacks KeUserCallbackDispatcher.
 * - Types and fields absent from all four: _KDPC_STACK_FRAME, _KPRCB.MaxBreakpoints/MaxWatchpoints (ARM64
 *   fields, so presumably 0 on x64 [unverified]).
 * - 7601 lacks _KPRCB.IsrStack, _KPRIQUEUE and _EPROCESS.MmHotPatchContext; its block (Size 0x340) ends
 *   before those fields anyway.
 */

const struct r2d_kdbg_field r2d_kdbg_fields[] = {
    HEADER(R2D_KDBG_OFF_FLINK, 8, "List.Flink"),
    HEADER(R2D_KDBG_OFF_BLINK, 8, "List.Blink"),
    HEADER(R2D_KDBG_OFF_OWNER_TAG, 4, "OwnerTag"),
    HEADER(R2D_KDBG_OFF_SIZE, 4, "Size"),
    VALUE(R2D_KDBG_OFF_KERNBASE, 8, "KernBase"),
    SYM(0x020, "BreakpointWithStatus", "RtlpBreakWithStatusInstruction"),
    UNKNOWN(0x028, 8, "SavedContext"), /* only meaningful after a bug check */
    UNKNOWN(0x030, 2, "ThCallbackStack"),
    UNKNOWN(0x032, 2, "NextCallback"),
    UNKNOWN(0x034, 2, "FramePointer"),
    VALUE(0x036, 2, "PaeEnabled"),     /* 0 on x64 (a 1-bit field in a u16) */
    SYM(0x038, "KiCallUserMode", "KiCallUserMode"),
    SYM(0x040, "KeUserCallbackDispatcher", "KeUserCallbackDispatcher"),
    SYM(R2D_KDBG_OFF_PS_LOADED_MODULE_LIST, "PsLoadedModuleList", "PsLoadedModuleList"),
    SYM(R2D_KDBG_OFF_PS_ACTIVE_PROCESS_HEAD, "PsActiveProcessHead", "PsActiveProcessHead"),
    SYM(0x058, "PspCidTable", "PspCidTable"),
    SYM(0x060, "ExpSystemResourcesList", "ExpSystemResourcesList"),
    SYM(0x068, "ExpPagedPoolDescriptor", "ExpPagedPoolDescriptor"),
    SYM(0x070, "ExpNumberOfPagedPools", "ExpNumberOfPagedPools"),
    SYM(0x078, "KeTimeIncrement", "KeTimeIncrement"),
    SYM(0x080, "KeBugCheckCallbackListHead", "KeBugCheckCallbackListHead"),
    SYM(R2D_KDBG_OFF_KI_BUGCHECK_DATA, "KiBugcheckData", "KiBugCheckData"),
    SYM(0x090, "IopErrorLogListHead", "IopErrorLogListHead"),
    SYM(0x098, "ObpRootDirectoryObject", "ObpRootDirectoryObject"),
    SYM(0x0a0, "ObpTypeObjectType", "ObpTypeObjectType"),
    SYM(0x0a8, "MmSystemCacheStart", "MmSystemCacheStart"),
    SYM(0x0b0, "MmSystemCacheEnd", "MmSystemCacheEnd"),
    SYM(0x0b8, "MmSystemCacheWs", "MmSystemCacheWs"),
    SYM(R2D_KDBG_OFF_MM_PFN_DATABASE, "MmPfnDatabase", "MmPfnDatabase"),
    SYM(0x0c8, "MmSystemPtesStart", "MmSystemPtesStart"),
    SYM(0x0d0, "MmSystemPtesEnd", "MmSystemPtesEnd"),
    SYM(0x0d8, "MmSubsectionBase", "MmSubsectionBase"),
    SYM(0x0e0, "MmNumberOfPagingFiles", "MmNumberOfPagingFiles"),
    SYM(0x0e8, "MmLowestPhysicalPage", "MmLowestPhysicalPage"),
    SYM(0x0f0, "MmHighestPhysicalPage", "MmHighestPhysicalPage"),
    SYM(0x0f8, "MmNumberOfPhysicalPages", "MmNumberOfPhysicalPages"),
    SYM(0x100, "MmMaximumNonPagedPoolInBytes", "MmMaximumNonPagedPoolInBytes"),
    SYM(0x108, "MmNonPagedSystemStart", "MmNonPagedSystemStart"),
    SYM(0x110, "MmNonPagedPoolStart", "MmNonPagedPoolStart"),
    SYM(0x118, "MmNonPagedPoolEnd", "MmNonPagedPoolEnd"),
    SYM(0x120, "MmPagedPoolStart", "MmPagedPoolStart"),
    SYM(0x128, "MmPagedPoolEnd", "MmPagedPoolEnd"),
    SYM(0x130, "MmPagedPoolInformation", "MmPagedPoolInfo"),
    VALUE(0x138, 8, "MmPageSize"),
    SYM(0x140, "MmSizeOfPagedPoolInBytes", "MmSizeOfPagedPoolInBytes"),
    SYM(0x148, "MmTotalCommitLimit", "MmTotalCommitLimit"),
    SYM(0x150, "MmTotalCommittedPages", "MmTotalCommittedPages"),
    SYM(0x158, "MmSharedCommit", "MmSharedCommit"),
    SYM(0x160, "MmDriverCommit", "MmDriverCommit"),
    SYM(0x168, "MmProcessCommit", "MmProcessCommit"),
    SYM(0x170, "MmPagedPoolCommit", "MmPagedPoolCommit"),
    SYM(0x178, "MmExtendedCommit", "MmExtendedCommit"),
    SYM(0x180, "MmZeroedPageListHead", "MmZeroedPageListHead"),
    SYM(0x188, "MmFreePageListHead", "MmFreePageListHead"),
    SYM(0x190, "MmStandbyPageListHead", "MmStandbyPageListHead"),
    SYM(0x198, "MmModifiedPageListHead", "MmModifiedPageListHead"),
    SYM(0x1a0, "MmModifiedNoWritePageListHead", "MmModifiedNoWritePageListHead"),
    SYM(0x1a8, "MmAvailablePages", "MmAvailablePages"),
    SYM(0x1b0, "MmResidentAvailablePages", "MmResidentAvailablePages"),
    SYM(0x1b8, "PoolTrackTable", "PoolTrackTable"),
    SYM(0x1c0, "NonPagedPoolDescriptor", "NonPagedPoolDescriptor"),
    SYM(0x1c8, "MmHighestUserAddress", "MmHighestUserAddress"),
    SYM(0x1d0, "MmSystemRangeStart", "MmSystemRangeStart"),
    SYM(0x1d8, "MmUserProbeAddress", "MmUserProbeAddress"),
    SYM(0x1e0, "KdPrintCircularBuffer", "KdPrintCircularBuffer"),
    SYM(0x1e8, "KdPrintCircularBufferEnd", "KdPrintCircularBufferEnd"),
    SYM(0x1f0, "KdPrintWritePointer", "KdPrintWritePointer"),
    SYM(0x1f8, "KdPrintRolloverCount", "KdPrintRolloverCount"),
    SYM(0x200, "MmLoadedUserImageList", "MmLoadedUserImageList"),
    SYM(0x208, "NtBuildLab", "NtBuildLab"),
    SYM(0x210, "KiNormalSystemCall", "KiNormalSystemCall"),
    SYM(R2D_KDBG_OFF_KI_PROCESSOR_BLOCK, "KiProcessorBlock", "KiProcessorBlock"),
    SYM(0x220, "MmUnloadedDrivers", "MmUnloadedDrivers"),
    SYM(0x228, "MmLastUnloadedDriver", "MmLastUnloadedDriver"),
    SYM(0x230, "MmTriageActionTaken", "MmTriageActionTaken"),
    SYM(0x238, "MmSpecialPoolTag", "MmSpecialPoolTag"),
    SYM(0x240, "KernelVerifier", "KernelVerifier"),
    SYM(0x248, "MmVerifierData", "MmVerifierData"),
    SYM(0x250, "MmAllocatedNonPagedPool", "MmAllocatedNonPagedPool"),
    SYM(0x258, "MmPeakCommitment", "MmPeakCommitment"),
    SYM(0x260, "MmTotalCommitLimitMaximum", "MmTotalCommitLimitMaximum"),
    SYM(0x268, "CmNtCSDVersion", "CmNtCSDVersion"),
    SYM(R2D_KDBG_OFF_MM_PHYSICAL_MEMORY_BLOCK, "MmPhysicalMemoryBlock", "MmPhysicalMemoryBlock"),
    SYM(0x278, "MmSessionBase", "MmSessionBase"),
    SYM(0x280, "MmSessionSize", "MmSessionSize"),
    SYM(0x288, "MmSystemParentTablePage", "MmSystemParentTablePage"),
    SYM(0x290, "MmVirtualTranslationBase", "MmVirtualTranslationBase"),
    OFF16(0x298, "OffsetKThreadNextProcessor", "_KTHREAD", "NextProcessor"),
    OFF16(0x29a, "OffsetKThreadTeb", "_KTHREAD", "Teb"),
    OFF16(0x29c, "OffsetKThreadKernelStack", "_KTHREAD", "KernelStack"),
    OFF16(0x29e, "OffsetKThreadInitialStack", "_KTHREAD", "InitialStack"),
    OFF16(0x2a0, "OffsetKThreadApcProcess", "_KTHREAD", "ApcState.Process"),
    OFF16(0x2a2, "OffsetKThreadState", "_KTHREAD", "State"),
    VALUE(0x2a4, 2, "OffsetKThreadBStore"),      /* IA64 only: 0 */
    VALUE(0x2a6, 2, "OffsetKThreadBStoreLimit"), /* IA64 only: 0 */
    SIZE16(0x2a8, "SizeEProcess", "_EPROCESS"),
    OFF16(0x2aa, "OffsetEprocessPeb", "_EPROCESS", "Peb"),
    OFF16(0x2ac, "OffsetEprocessParentCID", "_EPROCESS", "InheritedFromUniqueProcessId"),
    OFF16(0x2ae, "OffsetEprocessDirectoryTableBase", "_EPROCESS", "Pcb.DirectoryTableBase"),
    SIZE16(0x2b0, "SizePrcb", "_KPRCB"),
    OFF16(0x2b2, "OffsetPrcbDpcRoutine", "_KPRCB", "DpcRoutineActive"),
    OFF16(0x2b4, "OffsetPrcbCurrentThread", "_KPRCB", "CurrentThread"),
    OFF16(0x2b6, "OffsetPrcbMhz", "_KPRCB", "MHz"),
    OFF16(0x2b8, "OffsetPrcbCpuType", "_KPRCB", "CpuType"),
    OFF16(0x2ba, "OffsetPrcbVendorString", "_KPRCB", "VendorString"),
    OFF16(R2D_KDBG_OFF_OFFSET_PRCB_PROC_STATE_CONTEXT, "OffsetPrcbProcStateContext", "_KPRCB",
          "ProcessorState.ContextFrame"),
    OFF16(R2D_KDBG_OFF_OFFSET_PRCB_NUMBER, "OffsetPrcbNumber", "_KPRCB", "Number"),
    SIZE16(0x2c0, "SizeEThread", "_ETHREAD"),
    UNKNOWN(0x2c2, 1, "L1tfHighPhysicalBitIndex"),
    UNKNOWN(0x2c3, 1, "L1tfSwizzleBitIndex"),
    VALUE(0x2c4, 4, "Padding0"),
    SYM(0x2c8, "KdPrintCircularBufferPtr", "KdPrintCircularBufferPtr"),
    SYM(0x2d0, "KdPrintBufferSize", "KdPrintBufferSize"),
    SYM(0x2d8, "KeLoaderBlock", "KdpLoaderDebuggerBlock"),
    SIZE16(0x2e0, "SizePcr", "_KPCR"),
    OFF16(0x2e2, "OffsetPcrSelfPcr", "_KPCR", "Self"),
    OFF16(0x2e4, "OffsetPcrCurrentPrcb", "_KPCR", "CurrentPrcb"),
    OFF16(R2D_KDBG_OFF_OFFSET_PCR_CONTAINED_PRCB, "OffsetPcrContainedPrcb", "_KPCR", "Prcb"),
    VALUE(0x2e8, 2, "OffsetPcrInitialBStore"), /* IA64 only: 0 */
    VALUE(0x2ea, 2, "OffsetPcrBStoreLimit"),   /* IA64 only: 0 */
    UNKNOWN(0x2ec, 2, "OffsetPcrInitialStack"),
    UNKNOWN(0x2ee, 2, "OffsetPcrStackLimit"),
    UNKNOWN(0x2f0, 2, "OffsetPrcbPcrPage"),
    OFF16(0x2f2, "OffsetPrcbProcStateSpecialReg", "_KPRCB", "ProcessorState.SpecialRegisters"),
    IMAGE(0x2f4, "GdtR0Code"),
    IMAGE(0x2f6, "GdtR0Data"),
    IMAGE(0x2f8, "GdtR0Pcr"),
    IMAGE(0x2fa, "GdtR3Code"),
    IMAGE(0x2fc, "GdtR3Data"),
    IMAGE(0x2fe, "GdtR3Teb"),
    IMAGE(0x300, "GdtLdt"),
    IMAGE(0x302, "GdtTss"),
    IMAGE(0x304, "Gdt64R3CmCode"),
    IMAGE(0x306, "Gdt64R3CmTeb"),
    SYM(0x308, "IopNumTriageDumpDataBlocks", "IopNumTriageDumpDataBlocks"),
    SYM(0x310, "IopTriageDumpDataBlocks", "IopTriageDumpDataBlocks"),
    SYM(0x318, "VfCrashDataBlock", "VfCrashDataBlock"),
    SYM(0x320, "MmBadPagesDetected", "MmBadPagesDetected"),
    SYM(0x328, "MmZeroedPageSingleBitErrorsDetected", "MmZeroedPageSingleBitErrorsDetected"),
    SYM(0x330, "EtwpDebuggerData", "EtwpDebuggerData"),
    OFF16(R2D_KDBG_OFF_OFFSET_PRCB_CONTEXT, "OffsetPrcbContext", "_KPRCB", "Context"),
    OFF16(0x33a, "OffsetPrcbMaxBreakpoints", "_KPRCB", "MaxBreakpoints"),
    OFF16(0x33c, "OffsetPrcbMaxWatchpoints", "_KPRCB", "MaxWatchpoints"),
    VALUE(0x33e, 2, "Padding"),
    OFF32(0x340, "OffsetKThreadStackLimit", "_KTHREAD", "StackLimit"),
    OFF32(0x344, "OffsetKThreadStackBase", "_KTHREAD", "StackBase"),
    OFF32(0x348, "OffsetKThreadQueueListEntry", "_KTHREAD", "QueueListEntry"),
    OFF32(0x34c, "OffsetEThreadIrpList", "_ETHREAD", "IrpList"),
    OFF16(0x350, "OffsetPrcbIdleThread", "_KPRCB", "IdleThread"),
    OFF16(0x352, "OffsetPrcbNormalDpcState", "_KPRCB", "NormalDpcState"),
    OFF16(0x354, "OffsetPrcbDpcStack", "_KPRCB", "DpcStack"),
    OFF16(0x356, "OffsetPrcbIsrStack", "_KPRCB", "IsrStack"),
    SIZE16(0x358, "SizeKDPC_STACK_FRAME", "_KDPC_STACK_FRAME"),
    OFF16(0x35a, "OffsetKPriQueueThreadListHead", "_KPRIQUEUE", "ThreadListHead"),
    OFF16(0x35c, "OffsetKThreadWaitReason", "_KTHREAD", "WaitReason"),
    VALUE(0x35e, 2, "Padding"),
    VALUE(0x360, 8, "PteBase"),                 /* 1607+: from the page-table self-map slot */
    SYM(0x368, "RetpolineStubFunctionTable", "RetpolineStubFunctionTable"),
    UNKNOWN(0x370, 4, "RetpolineStubFunctionTableSize"),
    UNKNOWN(0x374, 4, "RetpolineStubOffset"),
    UNKNOWN(0x378, 4, "RetpolineStubSize"),
    OFF16(0x37c, "OffsetEProcessMmHotPatchContext", "_EPROCESS", "MmHotPatchContext"),
    VALUE(0x37e, 2, "Padding"),
};

const size_t r2d_kdbg_field_count = sizeof(r2d_kdbg_fields) / sizeof(r2d_kdbg_fields[0]);

const char *
r2d_kdbg_field_path(const struct r2d_kdbg_field *f, int x86)
{
    static const char *const x86_kpcr[][2] = {{"Self", "SelfPcr"}, {"CurrentPrcb", "Prcb"}, {"Prcb", "PrcbData"}};

    if (x86 && f->kind == R2D_KF_OFFSET && strcmp(f->source, "_KPCR") == 0)
        for (size_t i = 0; i < sizeof(x86_kpcr) / sizeof(x86_kpcr[0]); i++)
            if (strcmp(f->path, x86_kpcr[i][0]) == 0)
                return x86_kpcr[i][1];
    return f->path;
}
