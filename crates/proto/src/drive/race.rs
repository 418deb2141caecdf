//! Two futures raced: the async loop's read or write against the deadline's expiry.

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;

use super::clock::{AsyncClock, Deadline};

/// Which of two raced futures finished first.
pub(crate) enum Either<A, B> {
    /// The first.
    Left(A),
    /// The second.
    Right(B),
}

/// Polls `a`, then `b`, until one of them is ready; the other is dropped. `a` wins a tie.
pub(crate) async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    })
    .await
}

/// Completes once `deadline` has expired; never while it has no limit. A clock that wakes
/// early is slept on again.
pub(crate) async fn expiry<C: AsyncClock>(deadline: &Deadline<C>) {
    loop {
        match deadline.at_ms() {
            None => return core::future::pending().await,
            Some(_) if deadline.expired() => return,
            Some(at) => deadline.clock().sleep_until(at).await,
        }
    }
}
