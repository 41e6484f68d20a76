/* SPDX-License-Identifier: MIT */
/*
 * A tiny Windows DLL, built by the LLVM toolchain at test-build time only for its PDB: the symbol server test
 * serves that PDB. Built twice, the second time with R2D_FIXTURE_OTHER, to get a PDB with a different GUID.
 */
#ifdef R2D_FIXTURE_OTHER
int r2d_fixture_value = 7;
#else
int r2d_fixture_value = 42;
#endif

struct r2d_fixture_pair {
    int first;
    long long second;
};

__declspec(dllexport) long long r2d_fixture_sum(const struct r2d_fixture_pair *p)
{
    return p->first + p->second + r2d_fixture_value;
}
