/* version.c - the library's version (hers_version.h). HERS_VERSION_STRING and
 * HERS_ABI_VERSION_NUMBER come from CMake, which checks at configure time that
 * hers_version.h says the same. */
#include "hers/hers_version.h"

const char *hers_version_string(void)
{
    return HERS_VERSION_STRING;
}

int hers_abi_version(void)
{
    return HERS_ABI_VERSION_NUMBER;
}
