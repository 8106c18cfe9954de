//! Load balancing: the balancer owns a channel's subchannels (one per address the resolver found) and
//! picks one for each call through the policy in force, one file per policy. Calls read a [`Picker`], a
//! snapshot of the resolver's latest answer under its policy that the channel replaces whenever a
//! resolution lands, so a pick takes one short lock and never sees a half-applied update.
//!
//! A new policy is a file with a type implementing [`Policy`], its settings in [`config`], and a name in
//! [`policy_for`].

mod least_request;
mod outlier_detection;
mod pick_first;
mod ring_hash;
mod round_robin;
mod weighted_round_robin;

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;

use super::resolver::Address;
use super::subchannel::{Connection, Shared, Subchannel};
pub(crate) use crate::client::outcomes::CallOutcomes;
pub use crate::client::service_config::LoadBalancing;
use crate::keepalive::CallCount;
use crate::status::Status;

/// A policy's answer for one call.
pub(crate) enum Pick {
    Ready(Arc<Subchannel>, Connection),
    /// Nothing is up: connect the subchannels one after another, in the resolver's order, and take the
    /// first that connects (the call waits for it).
    ConnectInOrder,
    /// Nothing usable yet; something may change.
    Wait,
    /// Nothing usable; the error says why.
    Fail(Status),
}

/// What a policy may look at when it picks for one call.
#[derive(Clone, Copy)]
pub(crate) struct PickInfo<'a> {
    /// The call's request headers (its metadata): ring_hash hashes one of them.
    pub(crate) headers: &'a http::HeaderMap,
}

/// A load-balancing policy: picks a subchannel for each call from the resolver's list.
pub(crate) trait Policy: Send + Sync + std::fmt::Debug {
    /// The policy's name in a service config (`loadBalancingConfig`).
    fn name(&self) -> &'static str;

    /// Whether every subchannel is kept connected (reconnected on loss and after backoffs), not only the
    /// ones calls need.
    fn eager(&self) -> bool {
        false
    }

    /// How often each backend's connection asks for out-of-band ORCA load reports, when the policy wants
    /// them (weighted_round_robin with `enableOobLoadReport`).
    fn oob_reporting(&self) -> Option<std::time::Duration> {
        None
    }

    /// Picks for one call, without waiting; `subchannels` is never empty, and is the list the policy was
    /// last given through [`Policy::for_subchannels`].
    fn pick(&self, subchannels: &[Arc<Subchannel>], call: PickInfo<'_>) -> Pick;

    /// The policy for a new list of subchannels: `None` keeps this one, a policy that works something out
    /// of the list once (ring_hash's ring) returns a new one, so picks never recompute it.
    fn for_subchannels(&self, _subchannels: &[Arc<Subchannel>]) -> Option<Arc<dyn Policy>> {
        None
    }
}

/// The policy a [`LoadBalancing`] names.
pub(crate) fn policy_for(kind: &LoadBalancing) -> Arc<dyn Policy> {
    match kind {
        LoadBalancing::PickFirst => Arc::new(pick_first::PickFirst),
        LoadBalancing::RoundRobin => Arc::new(round_robin::RoundRobin::default()),
        LoadBalancing::LeastRequest(config) => Arc::new(least_request::LeastRequest::new(config)),
        LoadBalancing::RingHash(config) => Arc::new(ring_hash::RingHash::new(config.clone())),
        LoadBalancing::OutlierDetection(config) => Arc::new(outlier_detection::OutlierDetection::new(config)),
        LoadBalancing::WeightedRoundRobin(config) => Arc::new(weighted_round_robin::WeightedRoundRobin::new(config)),
    }
}

/// The subchannels with a connection up, the others asked to connect: how the policies that keep every
/// backend connected (round_robin, least_request) see the list.
fn ready_connecting_others(subchannels: &[Arc<Subchannel>]) -> Vec<(&Arc<Subchannel>, Connection)> {
    let mut ready = Vec::with_capacity(subchannels.len());
    for subchannel in subchannels {
        match subchannel.current() {
            Some(connection) => ready.push((subchannel, connection)),
            None => subchannel.start_connecting(),
        }
    }
    ready
}

/// What a policy answers when no subchannel is up: wait while one is connecting, else fail with why one
/// failed.
fn none_ready(subchannels: &[Arc<Subchannel>]) -> Pick {
    if subchannels.iter().any(|s| s.is_connecting()) {
        return Pick::Wait;
    }
    match subchannels.iter().find_map(|s| s.failure()) {
        Some(error) => Pick::Fail(error),
        None => Pick::Wait,
    }
}

/// A random number below `n` (`n > 0`) for the policies' draws: a per-thread xorshift generator seeded
/// from the standard library's random keys, cheap enough for every call (not for anything secret).
fn random_below(n: usize) -> usize {
    (random_u64() % n as u64) as usize
}

/// 64 random bits, as [`random_below`].
fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(0x9e37_79b9_7f4a_7c15);
            hasher.finish() | 1
        });
    }
    STATE.with(|state| {
        // xorshift64* (Vigna): full period over non-zero states, good enough low bits after the multiply.
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// What calls pick from: the resolver's latest answer under the policy in force. Replaced, never changed.
#[derive(Debug, Clone)]
pub(crate) struct Picker {
    /// Whether the resolver answered at all.
    pub(crate) resolved: bool,
    /// Its latest failure, if its latest answer was one.
    pub(crate) error: Option<Status>,
    pub(crate) subchannels: Arc<[Arc<Subchannel>]>,
    pub(crate) kind: LoadBalancing,
    pub(crate) policy: Arc<dyn Policy>,
}

impl Picker {
    /// Before the resolver's first answer.
    pub(crate) fn unresolved(kind: LoadBalancing) -> Picker {
        let policy = policy_for(&kind);
        Picker { resolved: false, error: None, subchannels: Arc::from([]), kind, policy }
    }

    /// This picker under `kind` (the same policy, with its state, when the kind did not change).
    pub(crate) fn with_policy(mut self, kind: LoadBalancing) -> Picker {
        if kind != self.kind {
            self.policy = policy_for(&kind);
            self.kind = kind;
            self.policy = self.policy.for_subchannels(&self.subchannels).unwrap_or(self.policy);
        }
        self
    }

    /// This picker after a failed resolution: the subchannels stay, calls that find none up fail with it.
    pub(crate) fn with_error(mut self, error: Status) -> Picker {
        self.resolved = true;
        self.error = Some(error);
        self
    }

    /// This picker after a resolution: the subchannels (and their connections) of addresses still there
    /// are kept, new addresses get new ones; duplicates are dropped.
    pub(crate) fn with_addresses(mut self, mut addresses: Vec<Address>, shared: &Arc<Shared>) -> Picker {
        let mut seen = HashSet::new();
        addresses.retain(|address| seen.insert(address.clone()));
        let old = self.subchannels.clone();
        self.subchannels = addresses
            .into_iter()
            .map(|address| match old.iter().find(|s| *s.address() == address) {
                Some(existing) => existing.clone(),
                None => Subchannel::new(address, shared.clone()),
            })
            .collect();
        if let Some(policy) = self.policy.for_subchannels(&self.subchannels) {
            self.policy = policy;
        }
        self.resolved = true;
        self.error = None;
        self
    }

    /// Looks once: a connection, or what to do instead. `target` names the channel in errors.
    fn pick(&self, target: &(dyn std::fmt::Display + Sync), call: PickInfo<'_>) -> Pick {
        if self.subchannels.is_empty() {
            return match (&self.resolved, &self.error) {
                (false, _) => Pick::Wait,
                (true, Some(error)) => Pick::Fail(error.clone()),
                (true, None) => {
                    Pick::Fail(Status::unavailable(format!("the resolver found no addresses for {target}")))
                }
            };
        }
        self.policy.pick(&self.subchannels, call)
    }
}

/// What a call got from the balancer: a connection ready for a stream, the connection's call count, and
/// where the call's outcome is counted when outlier detection watches the backend.
pub(crate) struct Picked {
    pub(crate) send: h2::client::SendRequest<Bytes>,
    pub(crate) calls: CallCount,
    pub(crate) outcomes: Option<Arc<CallOutcomes>>,
}

/// A connection ready for a new stream. Without `wait_for_ready` a call fails with UNAVAILABLE when no
/// backend can be reached; with it, it waits (the call's deadline bounds the wait) for `shared`'s next
/// change or for the first backoff to run out.
pub(crate) async fn pick(
    current: impl Fn() -> Arc<Picker>,
    shared: &Shared,
    target: &(dyn std::fmt::Display + Sync),
    wait_for_ready: bool,
    call: PickInfo<'_>,
) -> Result<Picked, Status> {
    let mut changes = shared.changed.subscribe();
    loop {
        changes.borrow_and_update();
        let picker = current();
        let pick = match picker.pick(target, call) {
            Pick::ConnectInOrder => connect_in_order(&picker.subchannels).await,
            pick => pick,
        };
        match pick {
            Pick::Ready(subchannel, connection) => {
                let Connection { send, calls, .. } = connection;
                match send.ready().await {
                    Ok(send) => {
                        let outcomes = subchannel.outcomes().watched().then(|| subchannel.outcomes().clone());
                        return Ok(Picked { send, calls, outcomes });
                    }
                    Err(error) => {
                        // Gone since it was last seen up (GOAWAY, reset): look again.
                        tracing::debug!(address = %subchannel.address(), %error, "the connection is gone");
                        subchannel.forget();
                        continue;
                    }
                }
            }
            Pick::Fail(error) if !wait_for_ready => return Err(error),
            Pick::Wait | Pick::Fail(_) | Pick::ConnectInOrder => {}
        }
        let retry_at = picker.subchannels.iter().filter_map(|s| s.backoff().map(|(until, _)| until)).min();
        let retry = async move {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = changes.changed() => {}
            () = retry => {}
        }
    }
}

/// The first subchannel that connects, trying them in order; the last failure if none does.
async fn connect_in_order(subchannels: &[Arc<Subchannel>]) -> Pick {
    let mut last_error = None;
    for subchannel in subchannels {
        match subchannel.connect().await {
            Ok(connection) => return Pick::Ready(subchannel.clone(), connection),
            Err(error) => last_error = Some(error),
        }
    }
    Pick::Fail(last_error.unwrap_or_else(|| Status::unavailable("no address to connect to")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::config::ChannelConfig;

    pub(super) fn shared() -> Arc<Shared> {
        let (changed, _) = tokio::sync::watch::channel(0);
        Arc::new(Shared {
            config: Arc::new(ChannelConfig::default()),
            changed,
            refresh: crate::client::Refresh::default(),
            eager: std::sync::atomic::AtomicBool::new(false),
            health_service: Default::default(),
            oob_reporting: Default::default(),
        })
    }

    pub(super) fn address(port: u16) -> Address {
        Address::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    }

    pub(super) fn no_headers() -> PickInfo<'static> {
        static EMPTY: std::sync::OnceLock<http::HeaderMap> = std::sync::OnceLock::new();
        PickInfo { headers: EMPTY.get_or_init(http::HeaderMap::new) }
    }

    fn kind(pick: &Pick) -> String {
        match pick {
            Pick::Ready(..) => "ready".into(),
            Pick::ConnectInOrder => "connect".into(),
            Pick::Wait => "wait".into(),
            Pick::Fail(status) => format!("fail: {}", status.message()),
        }
    }

    #[test]
    fn without_addresses_a_call_waits_for_the_resolver_then_fails_with_what_it_said() {
        let picker = Picker::unresolved(LoadBalancing::PickFirst);
        assert_eq!(kind(&picker.pick(&"dns:///x", no_headers())), "wait");
        let resolved_empty = picker.clone().with_addresses(Vec::new(), &shared());
        assert_eq!(
            kind(&resolved_empty.pick(&"dns:///x", no_headers())),
            "fail: the resolver found no addresses for dns:///x"
        );
        let failed = picker.with_error(Status::unavailable("no such host"));
        assert_eq!(kind(&failed.pick(&"dns:///x", no_headers())), "fail: no such host");
    }

    #[test]
    fn a_resolution_keeps_the_subchannels_of_addresses_still_there_and_drops_duplicates() {
        let shared = shared();
        let first = Picker::unresolved(LoadBalancing::PickFirst).with_addresses(vec![address(1), address(2)], &shared);
        let kept = first.subchannels[1].clone();
        let second = first.with_addresses(vec![address(2), address(3), address(2)], &shared);
        let addresses: Vec<_> = second.subchannels.iter().map(|s| s.address().clone()).collect();
        assert_eq!(addresses, [address(2), address(3)]);
        assert!(Arc::ptr_eq(&second.subchannels[0], &kept), "the subchannel (and its connection) is kept");
        assert!(second.error.is_none() && second.resolved);
    }

    #[test]
    fn pick_first_with_nothing_up_connects_in_order_and_a_policy_change_replaces_the_policy() {
        let picker =
            Picker::unresolved(LoadBalancing::PickFirst).with_addresses(vec![address(1), address(2)], &shared());
        assert_eq!(kind(&picker.pick(&"t", no_headers())), "connect");
        assert_eq!(picker.policy.name(), "pick_first");
        let same = picker.clone().with_policy(LoadBalancing::PickFirst);
        assert!(Arc::ptr_eq(&same.policy, &picker.policy), "an unchanged policy keeps its state");
        let round_robin = picker.with_policy(LoadBalancing::RoundRobin);
        assert_eq!(round_robin.policy.name(), "round_robin");
        assert!(round_robin.policy.eager());
    }
}
