//! `etcd:///<service>`: lists the service's endpoints in etcd, then watches them from the revision listed,
//! and sends the channel a resolution each time the set of addresses changes. A lost connection or an etcd
//! restart resumes the watch from the last revision seen (no change is missed); a revision compacted away
//! meanwhile means listing again.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use rsgrpc::client::{Address, Refresh, Resolution, Resolutions, Resolver, TargetUri};
use rsgrpc::Status;
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::client::EtcdClient;
use crate::endpoint::{service_prefix, Endpoint};
use crate::pb::etcdserverpb::WatchResponse;
use crate::pb::mvccpb::{event::EventType, Event, KeyValue};

/// The longest wait between two attempts to reach etcd.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Events of one fragmented revision buffered at most; a revision larger than this is refused (etcd's own
/// request limit keeps real ones far below).
const MAX_PENDING_EVENTS: usize = 100_000;

/// Resolves `etcd:///<service>` to the endpoints registered under `<service>/` (by [`register`](crate::register)
/// or by etcd's Go `endpoints.Manager`). Register it with `rsgrpc::client::register_resolver("etcd", ..)` or
/// `ChannelBuilder::resolver("etcd", ..)`.
#[derive(Clone, Debug)]
pub struct EtcdResolver {
    client: EtcdClient,
}

impl EtcdResolver {
    /// A resolver reading from the etcd `client` talks to.
    pub fn new(client: EtcdClient) -> Self {
        EtcdResolver { client }
    }
}

impl Resolver for EtcdResolver {
    fn resolve(&self, target: &TargetUri, _refresh: Refresh) -> Resolutions {
        // etcd pushes every change, so a refresh request has nothing to add.
        if !target.authority().is_empty() {
            let status = Status::invalid_argument(format!(
                "target {target}: the etcd resolver takes etcd:///<service>; the etcd cluster is the resolver's client, not an authority"
            ));
            return Box::pin(futures_util::stream::iter([Err(status)]));
        }
        let service = target.endpoint().trim_start_matches('/').to_owned();
        if service.is_empty() {
            let status = Status::invalid_argument(format!("target {target}: the service name is empty"));
            return Box::pin(futures_util::stream::iter([Err(status)]));
        }
        let (sender, mut receiver) = mpsc::channel(4);
        let client = self.client.clone();
        // The task's owner is the stream: when the channel drops it, `closed()` ends the task.
        tokio::spawn(async move {
            tokio::select! {
                () = follow(client, service, &sender) => {}
                () = sender.closed() => {}
            }
        });
        Box::pin(futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
    }
}

type ResolutionSender = mpsc::Sender<Result<Resolution, Status>>;

/// What the resolver knows of one service.
#[derive(Default)]
struct Watched {
    /// Key to the addresses its entry names, sorted by key so the resolution's order is stable.
    endpoints: BTreeMap<Vec<u8>, Vec<Address>>,
    /// The first revision not yet seen: where a new watch starts.
    next_revision: i64,
    /// What the channel was last sent, so an unchanged set is not sent again.
    sent: Option<Vec<Address>>,
}

impl Watched {
    /// Sends the addresses, unless the channel has them already.
    async fn publish(&mut self, sender: &ResolutionSender) {
        let mut seen = HashSet::new();
        let addresses: Vec<Address> =
            self.endpoints.values().flatten().filter(|address| seen.insert(*address)).cloned().collect();
        if self.sent.as_ref() == Some(&addresses) {
            return;
        }
        tracing::debug!(addresses = addresses.len(), "etcd resolution");
        self.sent = Some(addresses.clone());
        let _ = sender.send(Ok(Resolution::new(addresses))).await;
    }

    /// Takes in a key's new value: its addresses, or nothing if the value names no endpoint.
    async fn put(&mut self, kv: &KeyValue) {
        match addresses_of(kv).await {
            Some(addresses) => {
                self.endpoints.insert(kv.key.clone(), addresses);
            }
            None => {
                // The key no longer holds a usable entry, so what it held before is stale too.
                self.endpoints.remove(&kv.key);
            }
        }
    }
}

/// Lists and watches until the channel goes away.
async fn follow(client: EtcdClient, service: String, sender: &ResolutionSender) {
    let prefix = service_prefix(&service).into_bytes();
    let mut watched = Watched::default();
    let mut backoff = Backoff::new(MAX_BACKOFF);
    let mut listed = false;
    loop {
        if !listed {
            match list(&client, &prefix, &mut watched).await {
                Ok(()) => {
                    listed = true;
                    watched.publish(sender).await;
                }
                Err(status) => {
                    tracing::warn!(service, error = %status, "listing the service's endpoints in etcd failed");
                    // Before any answer, calls learn why there is none; after, the addresses they have stay.
                    if watched.sent.is_none() {
                        let _ = sender.send(Err(status)).await;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            }
        }
        match watch(&client, &prefix, &mut watched, sender, &mut backoff).await {
            WatchEnd::Compacted(revision) => {
                tracing::info!(service, revision, "etcd compacted the watched revision; listing again");
                listed = false;
            }
            WatchEnd::Failed(status) => {
                tracing::warn!(service, error = %status, "the etcd watch failed; resuming it");
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// Replaces what is known with the keys under `prefix` now.
async fn list(client: &EtcdClient, prefix: &[u8], watched: &mut Watched) -> Result<(), Status> {
    let (kvs, revision) = client.list_prefix(prefix).await?;
    watched.endpoints.clear();
    for kv in &kvs {
        watched.put(kv).await;
    }
    watched.next_revision = revision + 1;
    Ok(())
}

/// Why a watch ended.
enum WatchEnd {
    /// The revision to watch from is gone (etcd compacted up to this one).
    Compacted(i64),
    /// The stream failed or etcd cancelled the watch; it can be resumed.
    Failed(Status),
}

/// Follows the changes from `watched.next_revision` until the watch ends.
async fn watch(
    client: &EtcdClient,
    prefix: &[u8],
    watched: &mut Watched,
    sender: &ResolutionSender,
    backoff: &mut Backoff,
) -> WatchEnd {
    // The request side stays open for as long as the watch runs: dropping it would cancel the call.
    let (_requests, mut responses) = match client.watch_prefix(prefix, watched.next_revision).await {
        Ok(stream) => stream,
        Err(status) => return WatchEnd::Failed(status),
    };
    let mut pending: Vec<Event> = Vec::new();
    loop {
        let response = match responses.message().await {
            Ok(Some(response)) => response,
            Ok(None) => return WatchEnd::Failed(Status::unavailable("etcd ended the watch stream")),
            Err(status) => return WatchEnd::Failed(status),
        };
        if let Some(end) = ended(&response) {
            return end;
        }
        if response.created {
            backoff.reset();
        }
        pending.extend(response.events);
        if response.fragment {
            if pending.len() > MAX_PENDING_EVENTS {
                return WatchEnd::Failed(Status::resource_exhausted(format!(
                    "an etcd revision of more than {MAX_PENDING_EVENTS} events"
                )));
            }
            continue;
        }
        let progress = response.header.as_ref().map_or(0, |h| h.revision);
        apply(watched, std::mem::take(&mut pending), progress).await;
        watched.publish(sender).await;
    }
}

/// Whether etcd ended the watch, and how.
fn ended(response: &WatchResponse) -> Option<WatchEnd> {
    if response.compact_revision > 0 {
        return Some(WatchEnd::Compacted(response.compact_revision));
    }
    response
        .canceled
        .then(|| WatchEnd::Failed(Status::unavailable(format!("etcd cancelled the watch: {}", response.cancel_reason))))
}

/// Applies one revision's events (or a progress notice, `events` empty, saying etcd is at `progress`).
async fn apply(watched: &mut Watched, events: Vec<Event>, progress: i64) {
    if events.is_empty() {
        watched.next_revision = watched.next_revision.max(progress + 1);
        return;
    }
    for event in events {
        let Some(kv) = event.kv else { continue };
        watched.next_revision = watched.next_revision.max(kv.mod_revision + 1);
        match EventType::try_from(event.r#type) {
            Ok(EventType::Delete) => {
                watched.endpoints.remove(&kv.key);
            }
            Ok(EventType::Put) => watched.put(&kv).await,
            Err(_) => tracing::warn!(kind = event.r#type, "skipping an etcd event of an unknown kind"),
        }
    }
}

/// The addresses `kv`'s entry names; `None`, logged, when the value is no endpoint entry or names no
/// address that can be used.
async fn addresses_of(kv: &KeyValue) -> Option<Vec<Address>> {
    let key = String::from_utf8_lossy(&kv.key);
    let endpoint = match Endpoint::from_json(&kv.value) {
        Ok(endpoint) => endpoint,
        Err(error) => {
            tracing::warn!(%key, %error, "skipping an etcd key that is not an endpoint");
            return None;
        }
    };
    match parse_address(&endpoint.addr).await {
        Ok(addresses) => Some(addresses),
        Err(error) => {
            tracing::warn!(%key, addr = endpoint.addr, %error, "skipping an etcd endpoint whose address is unusable");
            None
        }
    }
}

/// `ip:port` as it is, `unix:/path` or `unix:///path` as a socket, `host:port` through DNS.
async fn parse_address(addr: &str) -> Result<Vec<Address>, String> {
    if let Some(path) = addr.strip_prefix("unix://").or_else(|| addr.strip_prefix("unix:")) {
        if !path.starts_with('/') {
            return Err("a unix socket path must be absolute".into());
        }
        return Ok(vec![Address::Unix(path.into())]);
    }
    if let Ok(socket) = addr.parse() {
        return Ok(vec![Address::Tcp(socket)]);
    }
    let has_port = addr.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !has_port {
        return Err("not ip:port, host:port or unix:/path".into());
    }
    let found = tokio::net::lookup_host(addr).await.map_err(|e| format!("DNS: {e}"))?;
    let addresses: Vec<Address> = found.map(Address::Tcp).collect();
    if addresses.is_empty() {
        return Err("DNS found no addresses".into());
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn addresses_in_every_form() {
        assert_eq!(parse_address("10.0.0.1:80").await.unwrap(), [Address::Tcp("10.0.0.1:80".parse().unwrap())]);
        assert_eq!(parse_address("[::1]:80").await.unwrap(), [Address::Tcp("[::1]:80".parse().unwrap())]);
        assert_eq!(parse_address("unix:///tmp/s").await.unwrap(), [Address::Unix("/tmp/s".into())]);
        assert_eq!(parse_address("unix:/tmp/s").await.unwrap(), [Address::Unix("/tmp/s".into())]);
        let local = parse_address("localhost:81").await.unwrap();
        assert!(local.iter().all(|a| matches!(a, Address::Tcp(s) if s.ip().is_loopback() && s.port() == 81)));
        for bad in ["10.0.0.1", "unix:relative", ":80", "host:notaport", ""] {
            assert!(parse_address(bad).await.is_err(), "{bad:?}");
        }
    }
}
