//! Name resolution: a [`Resolver`] turns a target into addresses (and optionally a service config), now and
//! whenever they change. Built in: `dns` (also behind `http://host:port` and `host:port`), `unix`, and the
//! static lists `ipv4` and `ipv6`. Users add schemes of their own (service discovery in Consul, etcd,
//! Kubernetes endpoints) globally with [`register_resolver`] or per channel with
//! [`ChannelBuilder::resolver`](super::ChannelBuilder::resolver).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::Notify;

use super::target::TargetUri;
use crate::status::Status;

/// Where a backend listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix domain socket.
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "{addr}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Tcp(addr)
    }
}

/// What a resolver found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// The backends, in the resolver's order (pick_first tries them in this order).
    pub addresses: Vec<Address>,
    /// A service config in its JSON form, if the resolver has one (it replaces the channel's default).
    pub service_config: Option<String>,
}

impl Resolution {
    /// A resolution of `addresses` without a service config.
    pub fn new(addresses: impl IntoIterator<Item = impl Into<Address>>) -> Self {
        Resolution { addresses: addresses.into_iter().map(Into::into).collect(), service_config: None }
    }
}

/// The resolutions of one target, latest last; an error item is a failed resolution (the channel keeps
/// the addresses it had, if any). The stream ending means no further changes.
pub type Resolutions = Pin<Box<dyn Stream<Item = Result<Resolution, Status>> + Send>>;

/// Turns targets of one scheme into addresses.
pub trait Resolver: Send + Sync + 'static {
    /// Resolves `target` now and again as it changes. `refresh` is notified when the channel lost a
    /// connection and would like fresh addresses (a resolver that only polls may ignore it).
    fn resolve(&self, target: &TargetUri, refresh: Refresh) -> Resolutions;
}

/// The channel's request for a fresh resolution (see [`Resolver::resolve`]).
#[derive(Clone, Debug, Default)]
pub struct Refresh(Arc<Notify>);

impl Refresh {
    /// Waits until the channel asks for a fresh resolution.
    pub async fn requested(&self) {
        self.0.notified().await
    }

    pub(crate) fn request(&self) {
        self.0.notify_one();
    }
}

type Registry = RwLock<HashMap<String, Arc<dyn Resolver>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut resolvers: HashMap<String, Arc<dyn Resolver>> = HashMap::new();
        resolvers.insert("dns".into(), Arc::new(DnsResolver::default()));
        resolvers.insert("unix".into(), Arc::new(StaticResolver));
        resolvers.insert("ipv4".into(), Arc::new(StaticResolver));
        resolvers.insert("ipv6".into(), Arc::new(StaticResolver));
        RwLock::new(resolvers)
    })
}

/// Makes `resolver` handle targets of `scheme` for every channel built afterwards (replacing a resolver of
/// that scheme, built-ins included).
pub fn register_resolver(scheme: &str, resolver: impl Resolver) {
    registry().write().unwrap_or_else(|e| e.into_inner()).insert(scheme.to_owned(), Arc::new(resolver));
}

/// The resolver registered for `scheme`.
pub(crate) fn registered(scheme: &str) -> Option<Arc<dyn Resolver>> {
    registry().read().unwrap_or_else(|e| e.into_inner()).get(scheme).cloned()
}

/// `unix:/path`, `ipv4:a:p,b:p` and `ipv6:[a]:p,[b]:p`: addresses written in the target, resolved once.
#[derive(Debug, Clone, Copy, Default)]
pub struct StaticResolver;

impl Resolver for StaticResolver {
    fn resolve(&self, target: &TargetUri, _refresh: Refresh) -> Resolutions {
        let resolution = static_addresses(target).map(Resolution::new);
        Box::pin(futures_util::stream::iter([resolution]))
    }
}

/// The port of `ipv4`/`ipv6` addresses written without one, as in gRPC.
const DEFAULT_PORT: u16 = 443;

fn static_addresses(target: &TargetUri) -> Result<Vec<Address>, Status> {
    let bad = |why: String| Status::invalid_argument(format!("target {target}: {why}"));
    let endpoint = target.endpoint();
    match target.scheme() {
        "unix" if endpoint.starts_with('/') => Ok(vec![Address::Unix(PathBuf::from(endpoint))]),
        "unix" => Err(bad("a unix socket path must be absolute (unix:/path or unix:///path)".into())),
        scheme @ ("ipv4" | "ipv6") => endpoint
            .split(',')
            .map(|item| {
                let addr = parse_ip_port(item, scheme == "ipv6")
                    .ok_or_else(|| bad(format!("{item:?} is not an {scheme} address")))?;
                Ok(Address::Tcp(addr))
            })
            .collect(),
        other => Err(bad(format!("no static addresses for scheme {other}"))),
    }
}

/// `a.b.c.d[:port]` or `[v6][:port]` (or a bare v6 address).
fn parse_ip_port(text: &str, v6: bool) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return (addr.is_ipv6() == v6).then_some(addr);
    }
    let ip: IpAddr = text.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    (ip.is_ipv6() == v6).then_some(SocketAddr::new(ip, DEFAULT_PORT))
}

/// Resolves `host:port` with the system resolver (A and AAAA records): at first, whenever the channel lost
/// a connection (at most every `min_interval`), and every `refresh_interval`.
#[derive(Debug, Clone, Copy)]
pub struct DnsResolver {
    /// Time between resolutions when nothing asks for one (default 5 minutes).
    pub refresh_interval: Duration,
    /// The least time between two resolutions (default 30 s, as in grpc-go), so a flapping backend does
    /// not flood the DNS server.
    pub min_interval: Duration,
}

impl Default for DnsResolver {
    fn default() -> Self {
        DnsResolver { refresh_interval: Duration::from_secs(300), min_interval: Duration::from_secs(30) }
    }
}

impl Resolver for DnsResolver {
    fn resolve(&self, target: &TargetUri, refresh: Refresh) -> Resolutions {
        let settings = *self;
        let endpoint = target.endpoint().to_owned();
        if !target.authority().is_empty() {
            let status = Status::invalid_argument(format!(
                "target {target}: a DNS server in the target is not supported; the system resolver is used"
            ));
            return Box::pin(futures_util::stream::iter([Err(status)]));
        }
        // (first lookup?, failed lookups in a row)
        let state = (true, 0u32, endpoint, refresh);
        Box::pin(futures_util::stream::unfold(state, move |(first, failures, endpoint, refresh)| async move {
            if failures > 0 {
                // A failed lookup is retried soon, with backoff (1 s doubling up to 2 minutes), not at the
                // next refresh: with no addresses there is nothing whose loss would ask for one.
                let delay = Duration::from_secs(1u64 << (failures - 1).min(7)).min(Duration::from_secs(120));
                tokio::time::sleep(delay).await;
            } else if !first {
                tokio::time::sleep(settings.min_interval).await;
                tokio::select! {
                    () = refresh.requested() => {}
                    () = tokio::time::sleep(settings.refresh_interval.saturating_sub(settings.min_interval)) => {}
                }
            }
            let resolved = lookup(&endpoint).await;
            let failures = if resolved.is_ok() { 0 } else { failures.saturating_add(1) };
            Some((resolved, (false, failures, endpoint, refresh)))
        }))
    }
}

async fn lookup(endpoint: &str) -> Result<Resolution, Status> {
    let has_port = endpoint
        .rsplit_once(':')
        .is_some_and(|(host, port)| port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']')));
    if !has_port {
        return Err(Status::invalid_argument(format!("target {endpoint:?}: the port is missing (host:port)")));
    }
    let addresses = tokio::net::lookup_host(endpoint)
        .await
        .map_err(|e| Status::unavailable(format!("DNS resolution of {endpoint} failed: {e}")))?;
    let mut addresses: Vec<Address> = addresses.map(Address::Tcp).collect();
    addresses.dedup();
    if addresses.is_empty() {
        return Err(Status::unavailable(format!("DNS resolution of {endpoint} found no addresses")));
    }
    Ok(Resolution { addresses, service_config: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> TargetUri {
        TargetUri::parse(text, |s| registered(s).is_some()).unwrap()
    }

    #[test]
    fn static_lists() {
        let v4 = static_addresses(&target("ipv4:10.0.0.1:80,10.0.0.2")).unwrap();
        assert_eq!(v4, [Address::Tcp("10.0.0.1:80".parse().unwrap()), Address::Tcp("10.0.0.2:443".parse().unwrap())]);
        let v6 = static_addresses(&target("ipv6:[::1]:81,::2")).unwrap();
        assert_eq!(v6, [Address::Tcp("[::1]:81".parse().unwrap()), Address::Tcp("[::2]:443".parse().unwrap())]);
        let error = static_addresses(&target("ipv4:10.0.0.1:80,::1")).unwrap_err();
        assert!(error.message().contains("\"::1\" is not an ipv4 address"), "{}", error.message());
        assert!(static_addresses(&target("unix:relative")).is_err());
    }

    #[tokio::test]
    async fn dns_resolves_localhost_and_says_what_is_wrong() {
        let resolution = lookup("localhost:50051").await.unwrap();
        assert!(!resolution.addresses.is_empty());
        assert!(resolution.addresses.iter().all(|a| matches!(a, Address::Tcp(addr) if addr.ip().is_loopback())));
        assert!(lookup("localhost").await.unwrap_err().message().contains("port is missing"));
    }
}
