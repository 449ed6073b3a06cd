/* `dpapi-protect IN OUT`: OUT gets IN encrypted with CryptProtectData for the current user, as
 * the Azure CLI writes msal_token_cache.bin on Windows. Test-only: `cargo xtask cross` runs it
 * under Wine to make az's encrypted token cache for the azure-cli flow's Windows case. */
#include <windows.h>
#include <wincrypt.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: dpapi-protect IN OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        fprintf(stderr, "dpapi-protect: cannot open %s\n", argv[1]);
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    BYTE *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, in)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(in);
    if (!buf) {
        fprintf(stderr, "dpapi-protect: out of memory\n");
        return 1;
    }
    DATA_BLOB plain = { (DWORD)len, buf }, sealed = { 0, NULL };
    if (!CryptProtectData(&plain, NULL, NULL, NULL, NULL, 0, &sealed)) {
        fprintf(stderr, "dpapi-protect: CryptProtectData failed: error %lu\n", GetLastError());
        return 1;
    }
    FILE *out = fopen(argv[2], "wb");
    if (!out || fwrite(sealed.pbData, 1, sealed.cbData, out) != sealed.cbData || fclose(out) != 0) {
        fprintf(stderr, "dpapi-protect: cannot write %s\n", argv[2]);
        return 1;
    }
    LocalFree(sealed.pbData);
    free(buf);
    return 0;
}
