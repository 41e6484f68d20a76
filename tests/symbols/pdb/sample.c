/* SPDX-License-Identifier: MIT */
/*
 * Input for the PDB reader tests: compiled by clang for x86_64-pc-windows-msvc with CodeView debug info and
 * linked by lld-link into sample.dll + sample.pdb (tests/symbols/pdb/meson.build). The independent truth is what
 * llvm-pdbutil says about the PDB (pdb_truth.py); the static_asserts pin a few layouts the test names.
 *
 * It holds: globals of known names in .text, .rdata and .data; nested structs, named and anonymous unions
 * and structs, bitfields, arrays, pointers, const/volatile members, an enum, forward-referenced structs
 * (defined after first use, and one never defined), and a struct of 8000 members whose field list is far
 * over 64 KiB, so the compiler splits it with LF_INDEX continuations; its offsets and size exceed 0x8000,
 * so they are numeric leaves (LF_ULONG) rather than plain u16.
 */
#include <stddef.h>

struct r2d_fwd_only; /* never defined: only a forward reference exists */
struct r2d_late;     /* defined after its first use */

struct r2d_inner {
    int a;
    short b;
    unsigned char c[3];
};

struct r2d_ctxframe {
    unsigned long long rip;
    unsigned long long rsp;
    struct r2d_inner deep;
};

struct r2d_procstate {
    unsigned long long cr3;
    struct r2d_ctxframe ContextFrame;
};

struct r2d_apcstate {
    struct r2d_late *Process;
    int kind;
};

enum r2d_color { R2D_RED, R2D_GREEN = 0x7fffffff, R2D_BLUE = -5 };

typedef struct r2d_prcb {
    unsigned int MxCsr;
    unsigned char Number;
    struct r2d_procstate ProcessorState;
    union {
        unsigned long long AsUlong;
        struct {
            unsigned int lo, hi;
        } parts;
    } u;
    union { /* anonymous: flattened into r2d_prcb */
        int anon_i;
        double anon_d;
    };
    struct { /* anonymous struct */
        short anon_s1;
        short anon_s2;
    };
    unsigned int Flag0 : 1;
    unsigned int Flag1 : 4;
    unsigned int Flag2 : 27;
    unsigned long long Big : 40;
    int Array2d[3][5];
    struct r2d_inner Inners[4];
    void *Ptr;
    struct r2d_fwd_only *Opaque;
    struct r2d_late *Late;
    const volatile struct r2d_apcstate ApcState; /* reached through an LF_MODIFIER */
    enum r2d_color Color;
    char Tail;
} r2d_prcb_t;

struct r2d_late {
    int z;
    struct r2d_late *next;
};

union r2d_union {
    long long q;
    struct r2d_inner in;
    char bytes[24];
};

/* 8000 members m0000..m7999 after a 0x9000-byte head. */
#define R2D_M1(p) int p;
#define R2D_M10(p) R2D_M1(p##0) R2D_M1(p##1) R2D_M1(p##2) R2D_M1(p##3) R2D_M1(p##4) \
                   R2D_M1(p##5) R2D_M1(p##6) R2D_M1(p##7) R2D_M1(p##8) R2D_M1(p##9)
#define R2D_M100(p) R2D_M10(p##0) R2D_M10(p##1) R2D_M10(p##2) R2D_M10(p##3) R2D_M10(p##4) \
                    R2D_M10(p##5) R2D_M10(p##6) R2D_M10(p##7) R2D_M10(p##8) R2D_M10(p##9)
#define R2D_M1000(p) R2D_M100(p##0) R2D_M100(p##1) R2D_M100(p##2) R2D_M100(p##3) R2D_M100(p##4) \
                     R2D_M100(p##5) R2D_M100(p##6) R2D_M100(p##7) R2D_M100(p##8) R2D_M100(p##9)

struct r2d_big {
    char head[0x9000];
    R2D_M1000(m0) R2D_M1000(m1) R2D_M1000(m2) R2D_M1000(m3)
    R2D_M1000(m4) R2D_M1000(m5) R2D_M1000(m6) R2D_M1000(m7)
    struct r2d_inner last;
};

_Static_assert(offsetof(struct r2d_prcb, ProcessorState) == 8, "ProcessorState");
_Static_assert(offsetof(struct r2d_procstate, ContextFrame) == 8, "ContextFrame");
_Static_assert(offsetof(struct r2d_ctxframe, deep) == 16, "deep");
_Static_assert(offsetof(struct r2d_inner, b) == 4, "b");
_Static_assert(sizeof(struct r2d_inner) == 12, "r2d_inner");
_Static_assert(sizeof(struct r2d_procstate) == 40, "r2d_procstate");
_Static_assert(offsetof(struct r2d_big, m0000) == 0x9000, "m0000");
_Static_assert(offsetof(struct r2d_big, m7999) == 0x9000 + 4 * 7999, "m7999");
_Static_assert(sizeof(struct r2d_big) == 0x9000 + 4 * 8000 + 12, "r2d_big");

int r2d_counter = 7;
static int r2d_static_var = 3;
const char r2d_rodata[] = "raw2dmp";
r2d_prcb_t r2d_prcb_var = {.MxCsr = 1};
struct r2d_big r2d_big_var = {.m0000 = 1};
union r2d_union r2d_union_var = {.q = 2};
struct r2d_late r2d_late_var;
struct r2d_fwd_only *r2d_opaque_ptr;
unsigned long long r2d_zeroed[16];

int
r2d_func(int x)
{
    return x + r2d_static_var + r2d_rodata[0];
}

int
r2d_other_func(void)
{
    return r2d_counter + r2d_func(1);
}
