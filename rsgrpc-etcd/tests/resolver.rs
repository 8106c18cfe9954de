//! The `etcd:///` resolver against entries written by others (etcdctl, in the JSON of etcd's Go naming
//! package) in a real etcd: Go's entries are found, values that are no endpoint are skipped with a warning,
//! and other services' keys are not taken for this one's.

mod support;

use rsgrpc::client::{Address, Channel, LoadBalancing};
use rsgrpc::health::{HealthCheckRequest, HealthClient};
use rsgrpc_etcd::{EtcdClient, EtcdResolver};
use support::{eventually, Backend, Etcd, Logs};

fn channel_to(service: &str, etcd: &EtcdClient) -> Channel {
    Channel::builder(&format!("etcd:///{service}"))
        .unwrap()
        .resolver("etcd", EtcdResolver::new(etcd.clone()))
        .load_balancing(LoadBalancing::RoundRobin)
        .connect_lazy()
}

fn connected(channel: &Channel) -> Vec<Address> {
    let mut addresses = channel.connected_addresses();
    addresses.sort();
    addresses
}

#[tokio::test]
async fn entries_in_go_naming_format_are_found_and_other_services_are_not() {
    let etcd = Etcd::start();
    let (go_server, other_service) = (Backend::start().await, Backend::start().await);
    // What etcd's Go endpoints.Manager writes for AddEndpoint("payments/<addr>", Endpoint{Addr, Metadata}).
    let go_value = format!(r#"{{"Op":0,"Addr":"{}","Metadata":{{"zone":"eu-1","weight":3}}}}"#, go_server.addr);
    etcd.put(&format!("payments/{}", go_server.addr), &go_value);
    // A service whose name starts with this one's: its keys are under "payments-admin/", not "payments/".
    let other = format!(r#"{{"Op":0,"Addr":"{}","Metadata":null}}"#, other_service.addr);
    etcd.put(&format!("payments-admin/{}", other_service.addr), &other);

    let client = EtcdClient::lazy(&etcd.url()).unwrap();
    let channel = channel_to("payments", &client);
    let health = HealthClient::new(channel.clone());
    health.check(HealthCheckRequest::default()).await.expect("a call to the Go-registered server");
    assert_eq!(go_server.calls(), 1);
    assert_eq!(connected(&channel), [Address::Tcp(go_server.addr)]);

    // Removed the way Go's DeleteEndpoint does it, by deleting the key.
    let second = Backend::start().await;
    etcd.put(&format!("payments/{}", second.addr), &format!(r#"{{"Op":0,"Addr":"{}"}}"#, second.addr));
    etcd.delete(&format!("payments/{}", go_server.addr));
    eventually("the watch followed the put and the delete", || connected(&channel) == [Address::Tcp(second.addr)])
        .await;
    health.check(HealthCheckRequest::default()).await.unwrap();
    assert_eq!((go_server.calls(), second.calls(), other_service.calls()), (1, 1, 0));
}

#[tokio::test]
async fn values_that_are_no_endpoint_are_skipped_with_a_warning() {
    let (logs, _guard) = Logs::capture();
    let etcd = Etcd::start();
    let good = Backend::start().await;
    etcd.put("inventory/garbage", "not json at all");
    etcd.put("inventory/no-addr", r#"{"Op":0,"Metadata":{}}"#);
    etcd.put("inventory/bad-addr", r#"{"Op":0,"Addr":"no port here"}"#);
    etcd.put(&format!("inventory/{}", good.addr), &format!(r#"{{"Op":0,"Addr":"{}"}}"#, good.addr));

    let client = EtcdClient::lazy(&etcd.url()).unwrap();
    let channel = channel_to("inventory", &client);
    let health = HealthClient::new(channel.clone());
    health.check(HealthCheckRequest::default()).await.expect("the good entry is used");
    assert_eq!(connected(&channel), [Address::Tcp(good.addr)]);
    let warned = |key: &str| logs.lines().iter().any(|l| l.starts_with("WARN") && l.contains(&format!("key={key}")));
    for key in ["inventory/garbage", "inventory/no-addr", "inventory/bad-addr"] {
        assert!(warned(key), "no warning for {key}: {:#?}", logs.lines());
    }

    // Through the watch too: a good entry overwritten with garbage is dropped (it names nothing now), with
    // a warning, and the resolver goes on.
    let replacement = Backend::start().await;
    etcd.put(&format!("inventory/{}", good.addr), r#"{"Op":"add""#);
    etcd.put(&format!("inventory/{}", replacement.addr), &format!(r#"{{"Addr":"{}"}}"#, replacement.addr));
    eventually("the overwritten entry is dropped and the new one used", || {
        connected(&channel) == [Address::Tcp(replacement.addr)]
    })
    .await;
    assert!(warned(&format!("inventory/{}", good.addr)), "{:#?}", logs.lines());
    health.check(HealthCheckRequest::default()).await.unwrap();
    assert_eq!(replacement.calls(), 1);
}

#[tokio::test]
async fn a_watch_cut_off_past_a_compaction_lists_again() {
    let (logs, _guard) = Logs::capture();
    let etcd = Etcd::start();
    let proxy = support::Proxy::start(etcd.addr()).await;
    let (before, after) = (Backend::start().await, Backend::start().await);
    let entry = |backend: &Backend| format!(r#"{{"Op":0,"Addr":"{}"}}"#, backend.addr);
    etcd.put(&format!("search/{}", before.addr), &entry(&before));

    let client = EtcdClient::lazy(&proxy.url()).unwrap();
    let channel = channel_to("search", &client);
    let health = HealthClient::new(channel.clone());
    health.check(HealthCheckRequest::default()).await.unwrap();
    assert_eq!(connected(&channel), [Address::Tcp(before.addr)]);

    // While the resolver cannot reach etcd, the service changes and etcd forgets the history of the
    // change: resuming the watch from the last revision seen is refused, and only a new listing can tell.
    proxy.cut().await;
    etcd.delete(&format!("search/{}", before.addr));
    etcd.put(&format!("search/{}", after.addr), &entry(&after));
    etcd.put("search/filler", &entry(&after));
    etcd.compact();
    proxy.restore();
    eventually("the resolver listed again after the compaction", || connected(&channel) == [Address::Tcp(after.addr)])
        .await;
    health.check(HealthCheckRequest::default()).await.unwrap();
    assert_eq!((before.calls(), after.calls()), (1, 1));
    assert!(logs.lines().iter().any(|l| l.contains("compacted the watched revision")), "{:#?}", logs.lines());
}
