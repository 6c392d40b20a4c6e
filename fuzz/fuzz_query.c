/* fuzz_query.c - libFuzzer target for hers_query_deserialize (search_record_fuzz.h). */
#include "search_record_fuzz.h"

HERS_SEARCH_RECORD_FUZZER(query, 0)
