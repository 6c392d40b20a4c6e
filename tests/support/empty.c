/* keeps the test support library non-empty */
typedef int hers_testsupport_empty_unit;
