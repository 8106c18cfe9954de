//! A channel's connectivity state, as grpc-go's `ClientConn.GetState` / `WaitForStateChange` report it:
//! the state of the channel's subchannels taken together, and a way to wait until it changes.
//!
//! ```text
//!            first call or state(true)        connected
//!   IDLE ─────────────────────────────> CONNECTING ──────────> READY
//!    ^                                    │    ^                  │
//!    │                   every address    │    │ backoff over,    │ connection lost
//!    │                   failed           v    │ next attempt     │
//!    │                              TRANSIENT_FAILURE             │
//!    └────────────────────────────────────────────────────────────┘
//!   any state ── Channel::close ──> SHUTDOWN
//! ```

use super::balancer::Picker;
use super::Channel;

/// The connectivity state of a [`Channel`] (gRPC's `connectivity.State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectivityState {
    /// No connection and none being made: the channel connects on its next call, or on
    /// [`Channel::state`]`(true)`.
    Idle,
    /// Resolving the target or connecting to a backend.
    Connecting,
    /// A connection is up: calls go out at once.
    Ready,
    /// Every backend failed its last connection attempt (or the resolver failed); calls fail fast unless
    /// they wait for ready.
    TransientFailure,
    /// [`Channel::close`] was called: the channel will not connect again.
    Shutdown,
}

impl ConnectivityState {
    /// The state's name as gRPC spells it (`TRANSIENT_FAILURE`), what channelz and logs show.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectivityState::Idle => "IDLE",
            ConnectivityState::Connecting => "CONNECTING",
            ConnectivityState::Ready => "READY",
            ConnectivityState::TransientFailure => "TRANSIENT_FAILURE",
            ConnectivityState::Shutdown => "SHUTDOWN",
        }
    }
}

impl std::fmt::Display for ConnectivityState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The channel's state from its picker's subchannels: ready if any is, else connecting if any is, else
/// idle if any is, else (all failed, or the resolver did) transient failure.
fn aggregate(picker: &Picker, resolving: bool) -> ConnectivityState {
    use ConnectivityState as S;
    if !picker.resolved {
        return if resolving { S::Connecting } else { S::Idle };
    }
    let mut best = S::TransientFailure;
    for subchannel in picker.subchannels.iter() {
        match subchannel.connectivity() {
            S::Ready => return S::Ready,
            S::Connecting => best = S::Connecting,
            S::Idle if best != S::Connecting => best = S::Idle,
            _ => {}
        }
    }
    best
}

impl Channel {
    /// The channel's connectivity state. With `try_to_connect`, a channel that is idle (or in transient
    /// failure with its backoff over) starts resolving and connecting, as grpc-go's `GetState` followed by
    /// `Connect`; it must then be called within a tokio runtime.
    pub fn state(&self, try_to_connect: bool) -> ConnectivityState {
        let state = self.current_state();
        if try_to_connect && matches!(state, ConnectivityState::Idle | ConnectivityState::TransientFailure) {
            // A pick connects the way the policy would for a call (pick_first in order, round robin all),
            // bounded by the connect timeout so a resolver that never answers does not hold the channel.
            let channel = self.clone();
            let timeout = self.config().connect_timeout;
            tokio::spawn(async move {
                let _ = tokio::time::timeout(timeout, channel.pick(false, &http::HeaderMap::new())).await;
            });
        }
        state
    }

    /// Waits until the state is no longer `from` and returns the new one (grpc-go's `WaitForStateChange`;
    /// bound it with `tokio::time::timeout`). Returns at once if the state already differs. A channel that is
    /// `Shutdown` never changes again: waiting from it returns `Shutdown` at once rather than hanging.
    pub async fn wait_for_state_change(&self, from: ConnectivityState) -> ConnectivityState {
        let mut changes = self.shared().changed.subscribe();
        loop {
            changes.borrow_and_update();
            let state = self.current_state();
            if state != from || state == ConnectivityState::Shutdown {
                return state;
            }
            if changes.changed().await.is_err() {
                return ConnectivityState::Shutdown;
            }
        }
    }

    fn current_state(&self) -> ConnectivityState {
        if self.is_closed() {
            return ConnectivityState::Shutdown;
        }
        aggregate(&self.picker(), self.resolving_started())
    }
}
