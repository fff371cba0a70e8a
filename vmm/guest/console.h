/*
 * The guest console: a 16550 UART at RRVM_SERIAL_PORT, polled (no interrupts). Only the BSP (and
 * the fatal exception path) prints, so there is no lock.
 */
#ifndef RRVM_GUEST_CONSOLE_H
#define RRVM_GUEST_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void console_init(void);
void console_write(const char* s, size_t len);
/* printf subset: %s %.*s %c %d %u %x with an optional 'l' (64-bit) and zero-padded width (%016lx).
 */
void console_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void console_vprintf(const char* fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
