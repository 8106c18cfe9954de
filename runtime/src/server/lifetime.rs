//! Connection lifetime limits: a connection without calls for `max_idle` is sent GOAWAY, and every
//! connection is sent GOAWAY at `max_age` (so clients spread over new servers after a scale-up) and closed
//! `age_grace` later if calls still hold it open. grpc-go's MaxConnectionIdle, MaxConnectionAge and
//! MaxConnectionAgeGrace.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// How long an idle connection sent GOAWAY may take to close by itself: h2's graceful shutdown waits for the
/// client to acknowledge a PING, and a client that never answers would keep the connection forever.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(3);

/// The limits; all off by default.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ConnectionLimits {
    pub(crate) max_idle: Option<Duration>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) age_grace: Option<Duration>,
}

/// What the connection should do now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send GOAWAY: no new calls; the ones in flight finish.
    GoAway,
    /// Close the connection now, dropping the calls left.
    Close,
}

/// One connection's timers.
pub(crate) struct Lifetime {
    limits: ConnectionLimits,
    idle: Option<Pin<Box<Sleep>>>,
    last_busy: Instant,
    age: Option<Pin<Box<Sleep>>>,
    /// After the age GOAWAY: when the connection is closed regardless.
    age_deadline: Option<Pin<Box<Sleep>>>,
    /// After the idle GOAWAY: when the connection is closed if it still has no calls.
    idle_deadline: Option<Pin<Box<Sleep>>>,
}

impl Lifetime {
    pub(crate) fn new(limits: ConnectionLimits) -> Self {
        let now = Instant::now();
        Lifetime {
            limits,
            idle: limits.max_idle.map(|idle| Box::pin(tokio::time::sleep_until(now + idle))),
            last_busy: now,
            age: limits.max_age.map(|age| Box::pin(tokio::time::sleep_until(now + age))),
            age_deadline: None,
            idle_deadline: None,
        }
    }

    /// Whether any limit is set; without one the connection need not call [`Lifetime::poll`].
    pub(crate) fn is_active(&self) -> bool {
        self.idle.is_some() || self.age.is_some() || self.age_deadline.is_some() || self.idle_deadline.is_some()
    }

    /// Checks the timers, given how many calls are open now.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, open_calls: usize) -> Poll<Action> {
        if let Some(deadline) = self.age_deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Action::Close);
            }
        }
        if let Some(deadline) = self.idle_deadline.as_mut() {
            // Calls that raced the GOAWAY finish first; the connection is polled again as they end.
            if deadline.as_mut().poll(cx).is_ready() && open_calls == 0 {
                return Poll::Ready(Action::Close);
            }
        }
        if let Some(age) = self.age.as_mut() {
            if age.as_mut().poll(cx).is_ready() {
                self.age = None;
                self.idle = None;
                if let Some(grace) = self.limits.age_grace {
                    let mut deadline = Box::pin(tokio::time::sleep(grace));
                    // Registers the waker for the grace deadline.
                    let _ = deadline.as_mut().poll(cx);
                    self.age_deadline = Some(deadline);
                }
                return Poll::Ready(Action::GoAway);
            }
        }
        if let (Some(idle), Some(max_idle)) = (self.idle.as_mut(), self.limits.max_idle) {
            let now = Instant::now();
            if open_calls > 0 {
                self.last_busy = now;
            }
            loop {
                if idle.as_mut().poll(cx).is_pending() {
                    break;
                }
                let due = self.last_busy + max_idle;
                if open_calls == 0 && due <= now {
                    self.idle = None;
                    let mut deadline = Box::pin(tokio::time::sleep(IDLE_CLOSE_GRACE));
                    // Registers the waker for the close deadline.
                    let _ = deadline.as_mut().poll(cx);
                    self.idle_deadline = Some(deadline);
                    return Poll::Ready(Action::GoAway);
                }
                // Calls came and went since the timer was set: wait the rest of the idle time from the last.
                idle.as_mut().reset(due.max(now + Duration::from_millis(1)));
            }
        }
        Poll::Pending
    }
}
