//! `ring_hash_experimental` (gRFC A42): consistent hashing. Each backend owns many points on a ring of
//! 64-bit hashes (xxHash64 of `"<address>_<n>"`, as Envoy and grpc-go hash them, so every client puts a
//! backend in the same places); a call's key (gRFC A76: a request header) is hashed too and goes to the
//! first point at or after it. One key keeps going to one backend; when that backend is down the call moves
//! on along the ring, and when backends come or go only the keys next to them move.
//!
//! Backends are connected lazily, when a key first lands on them, as A42 asks: a channel to a hundred
//! backends does not open a hundred connections for calls that touch three.

use std::sync::Arc;

use xxhash_rust::xxh64::xxh64;

use super::{random_u64, Pick, PickInfo, Policy};
use crate::client::connectivity::ConnectivityState;
use crate::client::service_config::lb::{RingHashConfig, RING_SIZE_CAP};
use crate::client::subchannel::Subchannel;

/// A point on the ring: its hash and the subchannel (an index into the picker's list) that owns it.
#[derive(Debug, Clone, Copy)]
struct Point {
    hash: u64,
    subchannel: u32,
}

/// The ring of the picker's subchannels, built once per resolution.
#[derive(Debug)]
pub(crate) struct RingHash {
    config: RingHashConfig,
    /// Sorted by hash.
    ring: Arc<[Point]>,
}

impl RingHash {
    /// The policy before it has subchannels (an empty ring).
    pub(crate) fn new(config: RingHashConfig) -> Self {
        RingHash { config, ring: Arc::from([]) }
    }

    /// The call's hash: its key header's values joined by commas (A76), else a random one.
    fn request_hash(&self, call: PickInfo<'_>) -> u64 {
        let Some(header) = &self.config.request_hash_header else { return random_u64() };
        let mut values = call.headers.get_all(header.as_str()).iter();
        let Some(first) = values.next() else { return random_u64() };
        let Some(second) = values.next() else { return xxh64(first.as_bytes(), 0) };
        let mut joined = [first.as_bytes(), second.as_bytes()].join(&b","[..]);
        for value in values {
            joined.push(b',');
            joined.extend_from_slice(value.as_bytes());
        }
        xxh64(&joined, 0)
    }
}

/// A42's ring: every backend weighs the same here (the resolver gives no weights), so each gets
/// `ceil(min_ring_size / n)` points, the total cut to `max_ring_size` (at least one point each).
fn build(subchannels: &[Arc<Subchannel>], config: &RingHashConfig) -> Arc<[Point]> {
    let n = subchannels.len() as u64;
    if n == 0 {
        return Arc::from([]);
    }
    let max = config.max_ring_size.clamp(1, RING_SIZE_CAP);
    let min = config.min_ring_size.clamp(1, max);
    let total = (min.div_ceil(n) * n).min(max);
    let mut ring = Vec::with_capacity(total.max(n) as usize);
    // Spread `total` over the backends as evenly as whole numbers allow, like A42's running sum.
    let mut placed = 0u64;
    for (index, subchannel) in subchannels.iter().enumerate() {
        let target = ((index as u64 + 1) * total).div_ceil(n);
        let count = target.saturating_sub(placed).max(1);
        placed += count;
        let address = subchannel.address().to_string();
        for point in 0..count {
            let key = format!("{address}_{point}");
            ring.push(Point { hash: xxh64(key.as_bytes(), 0), subchannel: index as u32 });
        }
    }
    ring.sort_unstable_by_key(|p| p.hash);
    Arc::from(ring)
}

impl Policy for RingHash {
    fn name(&self) -> &'static str {
        "ring_hash_experimental"
    }

    fn for_subchannels(&self, subchannels: &[Arc<Subchannel>]) -> Option<Arc<dyn Policy>> {
        Some(Arc::new(RingHash { config: self.config.clone(), ring: build(subchannels, &self.config) }))
    }

    /// A42's picker: the key's backend when it is up; while it is idle or connecting, the call waits for it
    /// (so a key does not wander during start-up); once it failed, the next backend along the ring that is
    /// up, asking the first idle one on the way to connect.
    fn pick(&self, subchannels: &[Arc<Subchannel>], call: PickInfo<'_>) -> Pick {
        let ring = &self.ring;
        if ring.is_empty() {
            return Pick::Wait;
        }
        let hash = self.request_hash(call);
        let start = ring.partition_point(|p| p.hash < hash) % ring.len();
        let subchannel_at = |i: usize| subchannels.get(ring[(start + i) % ring.len()].subchannel as usize);
        let Some(first) = subchannel_at(0) else { return Pick::Wait };
        if let Some(connection) = first.current() {
            return Pick::Ready(first.clone(), connection);
        }
        match first.connectivity() {
            ConnectivityState::TransientFailure => first.start_connecting(),
            _ => {
                first.start_connecting();
                return Pick::Wait;
            }
        }
        let mut seen = vec![false; subchannels.len()];
        let mut asked = false;
        let mut connecting = false;
        for i in 1..ring.len() {
            let Some(subchannel) = subchannel_at(i) else { continue };
            let index = ring[(start + i) % ring.len()].subchannel as usize;
            if std::mem::replace(&mut seen[index], true) || Arc::ptr_eq(subchannel, first) {
                continue;
            }
            if let Some(connection) = subchannel.current() {
                return Pick::Ready(subchannel.clone(), connection);
            }
            match subchannel.connectivity() {
                ConnectivityState::Connecting => connecting = true,
                ConnectivityState::Idle if !asked => {
                    subchannel.start_connecting();
                    (asked, connecting) = (true, true);
                }
                // A backoff that ran out: try again, the call does not wait for it.
                _ => subchannel.start_connecting(),
            }
        }
        if connecting {
            return Pick::Wait;
        }
        match first.failure() {
            Some(error) => Pick::Fail(error),
            None => Pick::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{address, no_headers, shared};
    use super::*;

    fn subchannels(ports: &[u16]) -> Vec<Arc<Subchannel>> {
        let shared = shared();
        ports.iter().map(|&port| Subchannel::new(address(port), shared.clone())).collect()
    }

    fn owners(ring: &[Point], n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        for point in ring {
            counts[point.subchannel as usize] += 1;
        }
        counts
    }

    #[test]
    fn each_backend_gets_an_equal_share_of_a_ring_of_the_configured_size() {
        let list = subchannels(&[1, 2, 3]);
        let ring = build(&list, &RingHashConfig::default());
        assert_eq!(ring.len(), 1026, "ceil(1024 / 3) points each");
        assert_eq!(owners(&ring, 3), [342, 342, 342]);
        assert!(ring.windows(2).all(|w| w[0].hash <= w[1].hash), "sorted");
        let small = RingHashConfig { min_ring_size: 1, max_ring_size: 2, request_hash_header: None };
        assert_eq!(owners(&build(&list, &small), 3), [1, 1, 1], "at least one point each");
    }

    #[test]
    fn a_new_backend_takes_its_share_of_keys_and_moves_few_others() {
        let before = build(&subchannels(&[1, 2, 3]), &RingHashConfig::default());
        let after = build(&subchannels(&[1, 2, 3, 4]), &RingHashConfig::default());
        let owner = |ring: &[Point], hash: u64| ring[ring.partition_point(|p| p.hash < hash) % ring.len()].subchannel;
        let keys: Vec<u64> = (0..1000u32).map(|k| xxh64(&k.to_be_bytes(), 0)).collect();
        let moved: Vec<u64> = keys.iter().copied().filter(|&k| owner(&before, k) != owner(&after, k)).collect();
        let to_new = moved.iter().filter(|&&k| owner(&after, k) == 3).count();
        // About a quarter of the keys belong to the new backend; the old backends each hold fewer points
        // now (256, not 342), which moves a few keys between them too, but most stay where they were.
        assert!((150..300).contains(&to_new), "{to_new} of 1000 keys went to the new backend");
        assert!(moved.len() - to_new < 100, "{} keys moved between the old backends", moved.len() - to_new);
    }

    #[test]
    fn the_key_header_is_hashed_with_its_values_joined_and_a_missing_one_is_random() {
        let config = RingHashConfig { request_hash_header: Some("x-key".into()), ..Default::default() };
        let policy = RingHash::new(config);
        let mut headers = http::HeaderMap::new();
        headers.append("x-key", "a".parse().unwrap());
        assert_eq!(policy.request_hash(PickInfo { headers: &headers }), xxh64(b"a", 0));
        headers.append("x-key", "b".parse().unwrap());
        headers.append("x-key", "c".parse().unwrap());
        assert_eq!(policy.request_hash(PickInfo { headers: &headers }), xxh64(b"a,b,c", 0));
        let randoms: std::collections::HashSet<u64> = (0..10).map(|_| policy.request_hash(no_headers())).collect();
        assert!(randoms.len() > 5, "a call without the header gets a random hash");
    }
}
