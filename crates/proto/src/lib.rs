//! Sans-IO SMTP client core (temporary crate root for the auth and body modules).
#![no_std]
#![forbid(unsafe_code)]
#[cfg(test)]
extern crate std;
pub mod auth;
pub mod body;
mod secret;
pub use secret::Secret;
