/*
 * For the Wine test run only (scripts/test-windows.sh), never shipped: Rust's standard library
 * gets random bytes (HashMap seeds) from ProcessPrng in bcryptprimitives.dll, which Windows 10+
 * has and Wine 8 lacks, so the addon would not load. This DLL, put in the Wine prefix's
 * system32, exports ProcessPrng and forwards it to SystemFunction036 (RtlGenRandom).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length) {
    ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
