//! Prints the size of the session state, for the README.
fn main() {
    println!(
        "Client: {} bytes, Error: {} bytes, Capabilities: {} bytes",
        core::mem::size_of::<postel_proto::Client<'static>>(),
        core::mem::size_of::<postel_proto::Error>(),
        core::mem::size_of::<postel_proto::Capabilities>()
    );
}
