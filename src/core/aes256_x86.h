/*
 * aes256_x86.h - private to aes256.c: the AES-NI and VAES counter-mode
 * paths (aes256_x86.c, compiled with per-function target attributes and
 * called only when the CPU has the instructions) and their CPU checks.
 */
#ifndef HERS_CORE_AES256_X86_H
#define HERS_CORE_AES256_X86_H

#include "core/aes256.h"

int hers_cpu_has_aesni(void);
int hers_cpu_has_vaes(void);   /* VAES and AVX-512F (512-bit aesenc) */
void hers_aes256_ctr_aesni(const hers_aes256 *a, uint64_t stream, uint64_t first, size_t nblocks,
                           uint8_t *out);
void hers_aes256_ctr_vaes(const hers_aes256 *a, uint64_t stream, uint64_t first, size_t nblocks,
                          uint8_t *out);

#endif
