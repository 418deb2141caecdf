//! The async driver loop over [`embedded_io_async::Read`] + [`embedded_io_async::Write`]:
//! the blocking loop with `.await`s, for any executor (embassy, tokio through
//! `embedded-io-adapters`, a test's `block_on`). Each read and write is raced against the
//! deadline's [`AsyncClock::sleep_until`], so no transport can hold a wait past its timeout.

use core::future::Future;
use core::time::Duration;

use embedded_io_async::{Error as _, Read, Write};

use super::race::{expiry, race, Either};
use super::{io_failure, transport_error, AsyncClock, Deadline, DriveError, Stop, Waits};
use crate::{Action, Client, Event, Step};

/// Drives `client` over `transport` until it needs the caller (see [`Stop`]). Message
/// content is read from `body` when the client asks for it; `on_event` sees every event.
///
/// `deadline` bounds every write and every wait for a reply (see [the module](super)): the
/// loop sets it and gives up on a read or write the moment it expires. It is cleared when
/// the loop returns.
pub async fn run<T, B, C>(
    client: &mut Client<'_>,
    transport: &mut T,
    body: &mut B,
    deadline: &Deadline<C>,
    on_event: impl FnMut(Event<'_>),
) -> Result<Stop, DriveError<T::Error>>
where
    T: Read + Write,
    B: Read,
    C: AsyncClock,
{
    let result = drive(client, transport, body, deadline, on_event).await;
    deadline.clear();
    result
}

async fn drive<T, B, C>(
    client: &mut Client<'_>,
    transport: &mut T,
    body: &mut B,
    deadline: &Deadline<C>,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Stop, DriveError<T::Error>>
where
    T: Read + Write,
    B: Read,
    C: AsyncClock,
{
    let mut waits = Waits::default();
    // Written and not yet flushed (the step and timeout of the last write): flushed before
    // every wait for the server.
    let mut unflushed: Option<(Step, Duration)> = None;
    loop {
        let (step, action) = client.poll_step()?;
        let stop = match action {
            Action::Send { bytes, within } => {
                waits.write(deadline, within);
                let n = match bounded(deadline, step, transport.write(bytes)).await {
                    Ok(0) => Err(DriveError::WriteZero),
                    other => other,
                };
                let n = n.map_err(|e| io_failure(client, e))?;
                client.handle_sent(n);
                unflushed = Some((step, within));
                continue;
            }
            Action::Receive { into, within } => {
                let mut waited = Ok(());
                if let Some((step, within)) = unflushed.take() {
                    deadline.start(within);
                    waited = bounded(deadline, step, transport.flush()).await;
                }
                let read = match waited.and_then(|()| waits.read(deadline, step, within)) {
                    Ok(()) => bounded(deadline, step, transport.read(into)).await,
                    Err(e) => Err(e),
                };
                let n = read.map_err(|e| io_failure(client, e))?;
                client.handle_received(n)?;
                continue;
            }
            Action::Body { into } => {
                waits.other();
                let n = body
                    .read(into)
                    .await
                    .map_err(|e| DriveError::Body(e.kind()))?;
                client.handle_body(n)?;
                continue;
            }
            Action::Event(e) => {
                waits.other();
                on_event(e);
                continue;
            }
            Action::Recipients { .. } => Stop::Recipients,
            Action::StartTls => Stop::StartTls,
            Action::Idle => Stop::Idle,
            Action::Closed => Stop::Closed,
        };
        if let Some((step, within)) = unflushed {
            deadline.start(within);
            bounded(deadline, step, transport.flush())
                .await
                .map_err(|e| io_failure(client, e))?;
        }
        return Ok(stop);
    }
}

/// `op` (a read, write or flush of `step`), abandoned with [`DriveError::Timeout`] if
/// `deadline` expires first.
async fn bounded<R, E, C: AsyncClock>(
    deadline: &Deadline<C>,
    step: Step,
    op: impl Future<Output = Result<R, E>>,
) -> Result<R, DriveError<E>> {
    match race(op, expiry(deadline)).await {
        Either::Left(result) => result.map_err(|e| transport_error(e, deadline, step)),
        Either::Right(()) => Err(DriveError::Timeout(step)),
    }
}
