//! The etcd v3 client that discovery needs, over our generated `etcdserverpb` stubs: prefix listing (paged,
//! at one revision), puts under a lease, lease grant and revoke, and the watch and keep-alive streams.

use std::time::Duration;

use rsgrpc::client::{Channel, Sender};
use rsgrpc::{Request, Status, Streaming};

use crate::pb::etcdserverpb::kv_client::KvClient;
use crate::pb::etcdserverpb::lease_client::LeaseClient;
use crate::pb::etcdserverpb::watch_client::WatchClient;
use crate::pb::etcdserverpb::{
    watch_request, DeleteRangeRequest, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseRevokeRequest, PutRequest, RangeRequest, WatchCreateRequest, WatchRequest, WatchResponse,
};
use crate::pb::mvccpb::KeyValue;

/// Keys read per Range request when listing a prefix, so that a large service does not need one response
/// larger than the channel's message limit.
const PAGE_SIZE: i64 = 500;

/// A connection to etcd (one channel to one or more members), shared by resolvers and registrations.
#[derive(Clone, Debug)]
pub struct EtcdClient {
    kv: KvClient,
    watch: WatchClient,
    lease: LeaseClient,
    request_timeout: Duration,
}

impl EtcdClient {
    /// A client over `channel`, built as the deployment needs (TLS, credentials, several members with
    /// `ipv4:` or `dns:///`). Give it keepalive (`ChannelBuilder::keepalive`) so that a member that
    /// vanished without closing the connection is noticed by the watch.
    pub fn new(channel: Channel) -> Self {
        EtcdClient {
            kv: KvClient::new(channel.clone()),
            watch: WatchClient::new(channel.clone()),
            lease: LeaseClient::new(channel),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// A plaintext client of the etcd at `target` (`http://127.0.0.1:2379`, `ipv4:10.0.0.1:2379,10.0.0.2:2379`),
    /// with keepalive pings every 10 s (etcd accepts one every 5 s) and round-robin over the members.
    pub fn lazy(target: &str) -> Result<Self, rsgrpc::ConfigError> {
        let channel = Channel::builder(target)?
            .keepalive(Duration::from_secs(10), Duration::from_secs(5))
            .load_balancing(rsgrpc::client::LoadBalancing::RoundRobin)
            .connect_lazy();
        Ok(EtcdClient::new(channel))
    }

    /// The deadline of each unary request to etcd (default 5 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// A unary request that waits for etcd to be reachable, up to the request timeout.
    fn request<T>(&self, message: T) -> Request<T> {
        Request::new(message).with_timeout(self.request_timeout).with_wait_for_ready(true)
    }

    /// Every key under `prefix` and the revision they were read at.
    pub(crate) async fn list_prefix(&self, prefix: &[u8]) -> Result<(Vec<KeyValue>, i64), Status> {
        let range_end = prefix_end(prefix);
        let mut key = prefix.to_vec();
        let mut revision = 0;
        let mut kvs = Vec::new();
        loop {
            let request = RangeRequest {
                key: key.clone(),
                range_end: range_end.clone(),
                limit: PAGE_SIZE,
                // Later pages at the first page's revision, so the list is one consistent snapshot.
                revision,
                ..Default::default()
            };
            let response = self.kv.range(self.request(request)).await?.into_inner();
            if revision == 0 {
                revision = response.header.as_ref().map_or(0, |h| h.revision);
            }
            let last = response.kvs.last().map(|kv| kv.key.clone());
            kvs.extend(response.kvs);
            match last {
                Some(mut last) if response.more => {
                    // The next page starts just after the last key.
                    last.push(0);
                    key = last;
                }
                _ => return Ok((kvs, revision)),
            }
        }
    }

    /// Sets `key` to `value`, attached to `lease`.
    pub(crate) async fn put(&self, key: &[u8], value: &[u8], lease: i64) -> Result<(), Status> {
        let request = PutRequest { key: key.to_vec(), value: value.to_vec(), lease, ..Default::default() };
        self.kv.put(self.request(request)).await?;
        Ok(())
    }

    /// Deletes `key`.
    pub(crate) async fn delete(&self, key: &[u8]) -> Result<(), Status> {
        self.kv.delete_range(self.request(DeleteRangeRequest { key: key.to_vec(), ..Default::default() })).await?;
        Ok(())
    }

    /// A new lease of `ttl` seconds: its ID and the TTL etcd granted.
    pub(crate) async fn grant(&self, ttl: i64) -> Result<(i64, i64), Status> {
        let response = self.lease.lease_grant(self.request(LeaseGrantRequest { ttl, ..Default::default() })).await?;
        let response = response.into_inner();
        if !response.error.is_empty() {
            return Err(Status::unavailable(format!("etcd refused a lease: {}", response.error)));
        }
        Ok((response.id, response.ttl))
    }

    /// Ends `lease` now, deleting its keys.
    pub(crate) async fn revoke(&self, lease: i64) -> Result<(), Status> {
        self.lease.lease_revoke(self.request(LeaseRevokeRequest { id: lease, ..Default::default() })).await?;
        Ok(())
    }

    /// A watch of the keys under `prefix` from `start_revision`, with progress notices and large revisions
    /// in fragments.
    pub(crate) async fn watch_prefix(
        &self,
        prefix: &[u8],
        start_revision: i64,
    ) -> Result<(Sender<WatchRequest>, Streaming<WatchResponse>), Status> {
        let (mut sender, responses) = self.watch.watch(Request::new(()).with_wait_for_ready(true)).await?;
        let create = WatchCreateRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            start_revision,
            progress_notify: true,
            fragment: true,
            ..Default::default()
        };
        let request = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(create)),
            ..Default::default()
        };
        sender.send(request).await?;
        Ok((sender, responses))
    }

    /// The keep-alive stream of leases.
    pub(crate) async fn keep_alive(
        &self,
    ) -> Result<(Sender<LeaseKeepAliveRequest>, Streaming<LeaseKeepAliveResponse>), Status> {
        self.lease.lease_keep_alive(Request::new(()).with_wait_for_ready(true)).await
    }
}

/// The end of the range of keys that start with `prefix`: the prefix with its last byte below 0xff
/// incremented and what follows dropped (etcd's convention; `\0` for "to the end" when all bytes are 0xff).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"svc/"), b"svc0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
    }
}
