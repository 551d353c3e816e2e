/*
 * A stand-in bcryptprimitives.dll for Wine 8 (Debian 12), which lacks
 * bcryptprimitives.dll!ProcessPrng. Go >= 1.22 Windows binaries load that
 * function at start-up and die with "fatal error: bcryptprimitives.dll not
 * found" without it. This one fills the buffer from RtlGenRandom
 * (advapi32!SystemFunction036), which Wine has. Used only by .ci/wine-setup:
 *
 *   x86_64-w64-mingw32-gcc -O2 -shared -s -o bcryptprimitives.dll wine.c -ladvapi32
 *
 * and copied into the Wine prefix's drive_c/windows/system32/.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst; (void)reason; (void)reserved;
	return TRUE;
}
