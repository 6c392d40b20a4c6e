/* fuzz_result.c - libFuzzer target for hers_result_deserialize (search_record_fuzz.h). */
#include "search_record_fuzz.h"

HERS_SEARCH_RECORD_FUZZER(result, 0)
