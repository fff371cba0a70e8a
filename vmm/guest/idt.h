#ifndef RRVM_GUEST_IDT_H
#define RRVM_GUEST_IDT_H

/* Builds the IDT once and loads it on this vCPU. */
void idt_load(void);

#endif
