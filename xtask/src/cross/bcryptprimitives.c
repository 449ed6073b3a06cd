/* A stand-in for Windows 10's bcryptprimitives.dll, which Wine 8.0 lacks: Rust's std (>= 1.78)
 * imports ProcessPrng from it, so every Rust .exe fails to start under Wine 8.0 without it
 * (c0000135). Test-only: `cargo xtask cross` copies it into its own Wine prefix. ProcessPrng is
 * implemented with RtlGenRandom (advapi32's SystemFunction036), the OS random source it wraps. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
