//! Stack painting and its high-water mark.
//!
//! At start-up every word between the end of static RAM (`_stack_end`, cortex-m-rt's symbol for
//! the lowest address the stack may reach: the first after `.bss` and `.uninit`) and a little below the current stack
//! pointer is painted with [`PAINT`]. The stack grows down from the top of RAM (`_stack_start`),
//! so the lowest word no longer holding the paint marks the deepest the stack has been.

use core::ptr::{addr_of, read_volatile, write_volatile};

/// The paint: a value unlikely to be a real stack word.
const PAINT: u32 = 0xC0DE_5AFE;
/// Words just below the stack pointer left unpainted (painting's own frame lives there).
const MARGIN_WORDS: usize = 16;

extern "C" {
    static _stack_end: u32;
    static _stack_start: u32;
}

fn bottom() -> *mut u32 {
    addr_of!(_stack_end) as *mut u32
}

fn top() -> *mut u32 {
    addr_of!(_stack_start) as *mut u32
}

/// Paints the unused stack; call it once, first thing in `main`.
#[inline(never)]
pub fn paint() {
    let sp = cortex_m::register::msp::read() as usize;
    let end = (sp & !3).saturating_sub(MARGIN_WORDS * 4) as *mut u32;
    let mut p = bottom();
    while p < end {
        // SAFETY: [_stack_end, sp - margin) is RAM that neither statics nor any live frame uses.
        unsafe { write_volatile(p, PAINT) };
        p = p.wrapping_add(1);
    }
}

/// The deepest the stack has been since [`paint`], in bytes from the top of RAM.
pub fn high_water_mark() -> usize {
    let mut p = bottom() as *const u32;
    let top = top() as *const u32;
    // SAFETY: every address in [_stack_end, _stack_start) is RAM.
    while p < top && unsafe { read_volatile(p) } == PAINT {
        p = p.wrapping_add(1);
    }
    top as usize - p as usize
}

/// The stack's room: from the top of RAM down to the end of static RAM, in bytes.
pub fn size() -> usize {
    top() as usize - bottom() as usize
}
