//! The balancing policies a service config chooses (`least_request_experimental`, `ring_hash_experimental`,
//! `weighted_round_robin` with ORCA load reports)
//! with outlier detection around them (`outlier_detection_experimental`), and client-side health checking
//! (`healthCheckConfig`), each over several real servers on their own loopback addresses (127.0.0.2, 127.0.0.3, ...: every
//! 127.0.0.0/8 address is local on Linux), checked by how many calls each backend received, never by
//! timings: the spread, the steering, stickiness per key, and what happens when a backend is killed
//! mid-load (calls move on, nothing hangs, the retry policy keeps what it can).

#[path = "balancing_policies/backends.rs"]
mod backends;
#[path = "balancing_policies/health_check.rs"]
mod health_check;
#[path = "balancing_policies/least_request.rs"]
mod least_request;
#[path = "balancing_policies/outlier_detection.rs"]
mod outlier_detection;
#[path = "balancing_policies/ring_hash.rs"]
mod ring_hash;
#[path = "balancing_policies/weighted_round_robin.rs"]
mod weighted_round_robin;
