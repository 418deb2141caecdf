//! The firmware's target-independent modules, built for the host so that their tests run.
#![no_std]

#[cfg(test)]
extern crate std;

#[path = "../src/date.rs"]
pub mod date;
#[path = "../src/message.rs"]
pub mod message;
