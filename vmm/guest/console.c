#include "console.h"

#include <stdarg.h>

#include "lib.h"
#include "rrvm_boot_abi.h"
#include "x86.h"

#define UART_THR 0 /* transmit holding register (write) */
#define UART_IER 1
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20
#define UART_FIFO_SIZE 16

/* Bytes the UART accepts after THRE reads set: 16 with the FIFO on, else 1. Every port access
 * is a VM exit (~9 us here), so filling the FIFO per LSR poll halves the cost of a line. */
static unsigned tx_burst = 1;

void console_init(void) {
  outb(RRVM_SERIAL_PORT + UART_IER, 0);        /* no UART interrupts: we poll */
  outb(RRVM_SERIAL_PORT + UART_LCR, 0x03);     /* 8N1; the divisor is left as the VMM reset it */
  outb(RRVM_SERIAL_PORT + UART_IIR_FCR, 0x07); /* enable and clear FIFOs */
  outb(RRVM_SERIAL_PORT + UART_MCR, 0x03);     /* DTR | RTS */
  /* IIR bits 7:6 read 11 only when a 16550A's FIFO really is on. */
  tx_burst = (inb(RRVM_SERIAL_PORT + UART_IIR_FCR) & 0xc0) == 0xc0 ? UART_FIFO_SIZE : 1;
}

void console_write(const char* s, size_t len) {
  size_t i = 0;
  while (i < len) {
    while (!(inb(RRVM_SERIAL_PORT + UART_LSR) & LSR_THRE)) cpu_pause();
    for (unsigned n = 0; n < tx_burst && i < len; n++, i++) {
      outb(RRVM_SERIAL_PORT + UART_THR, (uint8_t)s[i]);
    }
  }
}

struct out_buf {
  char data[256];
  size_t len;
};

static void buf_putc(struct out_buf* b, char c) {
  if (b->len == sizeof(b->data)) {
    console_write(b->data, b->len);
    b->len = 0;
  }
  b->data[b->len++] = c;
}

static void buf_put_u64(struct out_buf* b, uint64_t v, unsigned base, unsigned width, char pad) {
  char tmp[24];
  unsigned n = 0;
  do {
    unsigned digit = (unsigned)(v % base);
    tmp[n++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
    v /= base;
  } while (v != 0);
  while (n < width && n < sizeof(tmp)) tmp[n++] = pad;
  while (n > 0) buf_putc(b, tmp[--n]);
}

void console_vprintf(const char* fmt, va_list ap) {
  struct out_buf b;
  b.len = 0;
  for (const char* p = fmt; *p != '\0'; p++) {
    if (*p != '%') {
      buf_putc(&b, *p);
      continue;
    }
    p++;
    char pad = ' ';
    unsigned width = 0;
    int precision = -1; /* only %.*s */
    if (*p == '0') pad = '0';
    while (*p >= '0' && *p <= '9') width = width * 10 + (unsigned)(*p++ - '0');
    if (p[0] == '.' && p[1] == '*') {
      precision = va_arg(ap, int);
      p += 2;
    }
    int is_long = 0;
    if (*p == 'l') {
      is_long = 1;
      p++;
    }
    switch (*p) {
      case 's': {
        const char* s = va_arg(ap, const char*);
        for (int i = 0; s[i] != '\0' && (precision < 0 || i < precision); i++) buf_putc(&b, s[i]);
        break;
      }
      case 'c':
        buf_putc(&b, (char)va_arg(ap, int));
        break;
      case 'd': {
        int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
        if (v < 0) buf_putc(&b, '-');
        buf_put_u64(&b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 10, width, pad);
        break;
      }
      case 'u':
        buf_put_u64(&b, is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
        break;
      case 'x':
        buf_put_u64(&b, is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
        break;
      case '%':
        buf_putc(&b, '%');
        break;
      default: /* unknown conversion: print it as is */
        buf_putc(&b, '%');
        if (*p == '\0')
          p--;
        else
          buf_putc(&b, *p);
        break;
    }
  }
  console_write(b.data, b.len);
}

void console_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  console_vprintf(fmt, ap);
  va_end(ap);
}
