//! Counting a client's PINGs against the server's [`KeepaliveEnforcement`], as grpc-go does: too frequent
//! PINGs are strikes, and more than two strikes without the server sending data in between mean the client
//! floods (or its keepalive is set more aggressively than this server allows).

use std::time::Duration;

use tokio::time::Instant;

use super::frame_watch::FrameEvents;
use crate::keepalive::KeepaliveEnforcement;

/// Strikes tolerated; the next one closes the connection.
const MAX_STRIKES: u32 = 2;

/// How far apart PINGs must be on a connection without calls when they are not permitted there: a client
/// that keeps pinging an idle connection would not wait this long (grpc-go uses the same two hours).
const IDLE_MIN_TIME: Duration = Duration::from_secs(2 * 60 * 60);

/// One connection's strikes.
#[derive(Debug)]
pub(crate) struct PingPolicy {
    policy: KeepaliveEnforcement,
    last_ping: Option<Instant>,
    strikes: u32,
}

impl PingPolicy {
    pub(crate) fn new(policy: KeepaliveEnforcement) -> Self {
        PingPolicy { policy, last_ping: None, strikes: 0 }
    }

    /// Takes in what the connection saw since the last look; `true` once the client earned a GOAWAY.
    /// `has_calls` and `now` are asked only when a PING arrived, which is rare.
    pub(crate) fn too_many_pings(
        &mut self,
        events: &FrameEvents,
        has_calls: impl FnOnce() -> bool,
        now: impl FnOnce() -> Instant,
    ) -> bool {
        let (pings, sent_data) = events.take();
        if sent_data {
            self.strikes = 0;
            self.last_ping = None;
        }
        if pings == 0 {
            return false;
        }
        let now = now();
        let min_time =
            if has_calls() || self.policy.permit_without_calls { self.policy.min_time } else { IDLE_MIN_TIME };
        for _ in 0..pings {
            if self.last_ping.is_some_and(|last| now < last + min_time) {
                self.strikes += 1;
            }
            self.last_ping = Some(now);
        }
        self.strikes > MAX_STRIKES
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn events_with(pings: u32) -> FrameEvents {
        let events = FrameEvents::default();
        for _ in 0..pings {
            events.record_ping();
        }
        events
    }

    #[test]
    fn the_third_early_ping_in_a_row_is_too_many() {
        let policy = KeepaliveEnforcement { min_time: Duration::from_secs(10), permit_without_calls: false };
        let mut strikes = PingPolicy::new(policy);
        let start = Instant::now();
        // Spaced by min_time: never a strike.
        for i in 0..10 {
            assert!(!strikes.too_many_pings(&events_with(1), || true, || start + Duration::from_secs(10 * i)));
        }
        // Then one a second: the first is 11 s after the last, the three after it are strikes 1, 2, 3.
        let now = start + Duration::from_secs(100);
        assert!(!strikes.too_many_pings(&events_with(1), || true, || now + Duration::from_secs(1)));
        assert!(!strikes.too_many_pings(&events_with(1), || true, || now + Duration::from_secs(2)));
        assert!(!strikes.too_many_pings(&events_with(1), || true, || now + Duration::from_secs(3)));
        assert!(strikes.too_many_pings(&events_with(1), || true, || now + Duration::from_secs(4)));
    }

    #[test]
    fn sending_data_clears_the_strikes() {
        let mut strikes = PingPolicy::new(KeepaliveEnforcement::default());
        let now = Instant::now();
        for _ in 0..20 {
            assert!(!strikes.too_many_pings(&events_with(2), || true, || now));
            let sent = Arc::new(FrameEvents::default());
            sent.record_sent_data();
            assert!(!strikes.too_many_pings(&sent, || true, || now));
        }
    }

    #[test]
    fn pings_without_calls_need_permission() {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let lenient = KeepaliveEnforcement { min_time: Duration::from_secs(1), permit_without_calls: false };
        let mut strikes = PingPolicy::new(lenient);
        let flooded = (1..=4).any(|i| strikes.too_many_pings(&events_with(1), || false, || now + minute * i));
        assert!(flooded, "a PING a minute on an idle connection is too many without permission");
        let mut strikes = PingPolicy::new(KeepaliveEnforcement { permit_without_calls: true, ..lenient });
        assert!(!(1..=100).any(|i| strikes.too_many_pings(&events_with(1), || false, || now + minute * i)));
    }
}
