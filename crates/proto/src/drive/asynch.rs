//! The async driver loop over [`embedded_io_async::Read`] + [`embedded_io_async::Write`]:
//! the blocking loop with `.await`s, for any executor (embassy, tokio through
//! `embedded-io-adapters`, a test's `block_on`).

use embedded_io_async::{Error as _, Read, Write};

use super::{DriveError, Stop};
use crate::{Action, Client, Event};

/// Drives `client` over `transport` until it needs the caller (see [`Stop`]). Message
/// content is read from `body` when the client asks for it; `on_event` sees every event.
pub async fn run<T, B>(
    client: &mut Client<'_>,
    transport: &mut T,
    body: &mut B,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Stop, DriveError<T::Error>>
where
    T: Read + Write,
    B: Read,
{
    // Written and not yet flushed: flushed before every wait for the server.
    let mut unflushed = false;
    loop {
        let stop = match client.poll()? {
            Action::Send { bytes, .. } => {
                let n = transport
                    .write(bytes)
                    .await
                    .map_err(DriveError::Transport)?;
                if n == 0 {
                    return Err(DriveError::WriteZero);
                }
                client.handle_sent(n);
                unflushed = true;
                continue;
            }
            Action::Receive { into, .. } => {
                if unflushed {
                    transport.flush().await.map_err(DriveError::Transport)?;
                    unflushed = false;
                }
                let n = transport.read(into).await.map_err(DriveError::Transport)?;
                client.handle_received(n)?;
                continue;
            }
            Action::Body { into } => {
                let n = body
                    .read(into)
                    .await
                    .map_err(|e| DriveError::Body(e.kind()))?;
                client.handle_body(n)?;
                continue;
            }
            Action::Event(e) => {
                on_event(e);
                continue;
            }
            Action::StartTls => Stop::StartTls,
            Action::Idle => Stop::Idle,
            Action::Closed => Stop::Closed,
        };
        if unflushed {
            transport.flush().await.map_err(DriveError::Transport)?;
        }
        return Ok(stop);
    }
}
