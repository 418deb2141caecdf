//! `postel probe`.
use crate::cli::ProbeArgs;
use crate::exit::Failure;

/// Runs `postel probe`.
pub fn run(_args: &ProbeArgs) -> Result<u8, Failure> {
    Err(Failure::new(crate::exit::SOFTWARE, "not yet"))
}
