/*
 * The few libc functions the guest needs (it links no libc). gcc may also emit calls to
 * memcpy/memset/memmove/memcmp for struct copies, which is why they have those names.
 */
#ifndef RRVM_GUEST_LIB_H
#define RRVM_GUEST_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);

/* Parses all of [s, s + len) as a decimal number (no sign, no overflow). */
bool parse_u64(const char* s, size_t len, uint64_t* out);
/* True when [s, s + len) equals the NUL-terminated word. */
bool str_equal(const char* s, size_t len, const char* word);

#endif
