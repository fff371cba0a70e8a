#include "lib.h"

/* Plain byte loops: no rep-string instructions (the build checks the disassembly). This file is
 * compiled with -fno-tree-loop-distribute-patterns so gcc does not turn the loops back into
 * calls to themselves. */

void* memcpy(void* dst, const void* src, size_t n) {
  uint8_t* d = dst;
  const uint8_t* s = src;
  for (size_t i = 0; i < n; i++) d[i] = s[i];
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  uint8_t* d = dst;
  const uint8_t* s = src;
  if (d < s) {
    for (size_t i = 0; i < n; i++) d[i] = s[i];
  } else {
    for (size_t i = n; i > 0; i--) d[i - 1] = s[i - 1];
  }
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  uint8_t* d = dst;
  for (size_t i = 0; i < n; i++) d[i] = (uint8_t)c;
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  const uint8_t* x = a;
  const uint8_t* y = b;
  for (size_t i = 0; i < n; i++) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  return n;
}

bool parse_u64(const char* s, size_t len, uint64_t* out) {
  if (len == 0 || len > 19) return false; /* 19 digits always fit in 64 bits */
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

bool str_equal(const char* s, size_t len, const char* word) {
  size_t i = 0;
  for (; i < len; i++) {
    if (word[i] == '\0' || word[i] != s[i]) return false;
  }
  return word[i] == '\0';
}
