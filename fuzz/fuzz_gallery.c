/* fuzz_gallery.c - libFuzzer target for hers_gallery_deserialize (search_record_fuzz.h). */
#include "search_record_fuzz.h"

HERS_SEARCH_RECORD_FUZZER(gallery, 1)
