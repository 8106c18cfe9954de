//! Registration of a server: its endpoint entry is put under a lease that a background task keeps alive,
//! so a server that stops without deregistering (crashed, killed, cut off) disappears when the lease's TTL
//! runs out, and one that shuts down gracefully revokes the lease at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsgrpc::Status;
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::client::EtcdClient;
use crate::endpoint::{endpoint_key, Endpoint};
use crate::pb::etcdserverpb::LeaseKeepAliveRequest;

/// The shortest lease etcd is asked for: below about 2 s etcd raises the TTL itself (its minimum follows
/// its election timeout), and a keep-alive every third of it would flood it.
const MIN_TTL: Duration = Duration::from_secs(2);

/// A server's entry in etcd. [`deregister`](Registration::deregister) it on graceful shutdown, before the
/// server drains, so clients stop picking it. Dropping it without deregistering stops the keep-alive and
/// leaves the entry to expire with its lease, as a crash would.
#[derive(Debug)]
pub struct Registration {
    client: EtcdClient,
    key: String,
    /// The current lease: the keeper replaces it if etcd lost the old one (etcd down for longer than the TTL).
    lease: Arc<Mutex<i64>>,
    keeper: JoinHandle<()>,
}

/// Registers `endpoint` as a server of `service` (key `<service>/<addr>`, value Go's naming JSON) under a
/// lease of `ttl` (whole seconds, at least 2 s), and keeps the lease alive until deregistered or dropped.
pub async fn register(
    client: &EtcdClient,
    service: &str,
    endpoint: Endpoint,
    ttl: Duration,
) -> Result<Registration, Status> {
    if service.is_empty() || endpoint.addr.is_empty() {
        return Err(Status::invalid_argument("etcd registration: the service and the address must not be empty"));
    }
    if ttl < MIN_TTL {
        return Err(Status::invalid_argument(format!("etcd registration: a TTL of {ttl:?} is under {MIN_TTL:?}")));
    }
    let entry = Entry {
        key: endpoint_key(service, &endpoint.addr),
        value: endpoint.to_json(),
        // etcd leases are in whole seconds; round up so the entry never lives shorter than asked.
        ttl: ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0),
    };
    let lease = Arc::new(Mutex::new(entry.put(client).await?));
    let keeper = tokio::spawn(keep_alive(client.clone(), entry.clone(), lease.clone()));
    Ok(Registration { client: client.clone(), key: entry.key, lease, keeper })
}

impl Registration {
    /// The etcd key of the entry.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Removes the entry now: stops the keep-alive, revokes the lease and deletes the key.
    pub async fn deregister(self) -> Result<(), Status> {
        self.keeper.abort();
        let lease = *self.lease.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(error) = self.client.revoke(lease).await {
            // An expired lease is no error here: the key is what must go.
            tracing::debug!(key = self.key, %error, "revoking the etcd lease failed");
        }
        // The keeper may have been stopped between granting a new lease and recording it, leaving the key
        // under a lease not revoked above.
        self.client.delete(self.key.as_bytes()).await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// What a registration writes, kept to write it again under a new lease.
#[derive(Clone, Debug)]
struct Entry {
    key: String,
    value: String,
    ttl: u64,
}

impl Entry {
    /// Grants a lease and puts the entry under it; the lease's ID.
    async fn put(&self, client: &EtcdClient) -> Result<i64, Status> {
        let (lease, _granted) = client.grant(i64::try_from(self.ttl).unwrap_or(i64::MAX)).await?;
        if let Err(status) = client.put(self.key.as_bytes(), self.value.as_bytes(), lease).await {
            let _ = client.revoke(lease).await;
            return Err(status);
        }
        Ok(lease)
    }
}

/// Renews the lease every third of its TTL, as etcd's Go client does, across lost connections; puts the
/// entry again under a new lease when etcd says the old one is gone.
async fn keep_alive(client: EtcdClient, entry: Entry, lease: Arc<Mutex<i64>>) {
    let ttl = Duration::from_secs(entry.ttl);
    let interval = ttl / 3;
    let mut backoff = Backoff::new(interval);
    loop {
        let current = *lease.lock().unwrap_or_else(|e| e.into_inner());
        let status = match renew_until_failure(&client, current, interval, ttl, &mut backoff).await {
            Renewal::Expired => match entry.put(&client).await {
                Ok(new_lease) => {
                    tracing::info!(key = entry.key, "the etcd lease had expired; registered again");
                    *lease.lock().unwrap_or_else(|e| e.into_inner()) = new_lease;
                    continue;
                }
                Err(status) => status,
            },
            Renewal::Failed(status) => status,
        };
        tracing::warn!(key = entry.key, error = %status, "keeping the etcd registration alive failed; retrying");
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Why renewing stopped.
enum Renewal {
    /// etcd no longer knows the lease.
    Expired,
    /// The stream failed.
    Failed(Status),
}

/// Renews `lease` on one keep-alive stream every `interval`, waiting at most `ttl` for each answer.
async fn renew_until_failure(
    client: &EtcdClient,
    lease: i64,
    interval: Duration,
    ttl: Duration,
    backoff: &mut Backoff,
) -> Renewal {
    let (mut requests, mut responses) = match client.keep_alive().await {
        Ok(stream) => stream,
        Err(status) => return Renewal::Failed(status),
    };
    loop {
        if let Err(status) = requests.send(LeaseKeepAliveRequest { id: lease, ..Default::default() }).await {
            return Renewal::Failed(status);
        }
        let response = match tokio::time::timeout(ttl, responses.message()).await {
            Ok(Ok(Some(response))) => response,
            Ok(Ok(None)) => return Renewal::Failed(Status::unavailable("etcd ended the keep-alive stream")),
            Ok(Err(status)) => return Renewal::Failed(status),
            Err(_) => return Renewal::Failed(Status::deadline_exceeded("etcd did not answer a lease keep-alive")),
        };
        if response.ttl <= 0 {
            return Renewal::Expired;
        }
        backoff.reset();
        tokio::time::sleep(interval).await;
    }
}
