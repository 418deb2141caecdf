//! The device interrupt vectors: the AN385 has 32 (hw/arm/mps2.c: `num-irq` 32), and every
//! one goes to cortex-m-rt's `DefaultHandler` (see `board::DefaultHandler`). cortex-m-rt's
//! generic table has 240, 832 octets of flash more.

extern "C" {
    fn DefaultHandler();
}

/// The table cortex-m-rt's `link.x` places right after the exception vectors.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
#[used]
static __INTERRUPTS: [unsafe extern "C" fn(); 32] = [DefaultHandler; 32];
