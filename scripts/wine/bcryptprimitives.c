/*
 * Test-only, never shipped: Rust's standard library for Windows imports ProcessPrng from
 * bcryptprimitives.dll, which Debian 12's Wine (8.0) does not have yet. scripts/cross-check.sh
 * builds this with MinGW-w64 into a temporary directory on WINEPATH so the Windows test
 * binaries start under Wine; it forwards to RtlGenRandom (advapi32's SystemFunction036).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
