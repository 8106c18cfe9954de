//! Servers registering in a real etcd: calls spread over the registered servers, a deregistered server
//! gets no more calls, one that stops keeping its lease alive disappears when the lease expires, and an
//! etcd restart loses neither the registrations nor the clients' watch.

mod support;

use std::time::Duration;

use rsgrpc::client::{Address, Channel, LoadBalancing};
use rsgrpc::health::{HealthCheckRequest, HealthClient};
use rsgrpc_etcd::{endpoint_key, register, Endpoint, EtcdClient, EtcdResolver};
use support::{eventually, Backend, Etcd, Logs};

async fn channel_to(service: &str, etcd: &EtcdClient) -> Channel {
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

fn addresses(backends: &[&Backend]) -> Vec<Address> {
    let mut addresses: Vec<Address> = backends.iter().map(|b| Address::Tcp(b.addr)).collect();
    addresses.sort();
    addresses
}

/// Makes `count` calls, every one of which must succeed.
async fn call(client: &HealthClient, count: usize) {
    for _ in 0..count {
        client.check(HealthCheckRequest::default()).await.expect("a call through etcd discovery");
    }
}

#[tokio::test]
async fn registered_servers_share_the_calls_and_a_deregistered_one_gets_none() {
    let etcd = Etcd::start();
    let client = EtcdClient::lazy(&etcd.url()).unwrap();
    let backends = [Backend::start().await, Backend::start().await, Backend::start().await];
    let mut registrations = Vec::new();
    for backend in &backends {
        let endpoint = Endpoint::new(backend.addr.to_string());
        registrations.push(register(&client, "greeter", endpoint, Duration::from_secs(10)).await.unwrap());
    }
    // What Go's naming package writes, byte for byte.
    let key = endpoint_key("greeter", &backends[0].addr.to_string());
    assert_eq!(etcd.get(&key).unwrap(), format!(r#"{{"Op":0,"Addr":"{}","Metadata":null}}"#, backends[0].addr));

    let channel = channel_to("greeter", &client).await;
    let health = HealthClient::new(channel.clone());
    call(&health, 1).await;
    let all = addresses(&[&backends[0], &backends[1], &backends[2]]);
    eventually("the channel is connected to all three servers", || connected(&channel) == all).await;
    let before: Vec<usize> = backends.iter().map(Backend::calls).collect();
    call(&health, 30).await;
    let spread: Vec<usize> = backends.iter().zip(&before).map(|(b, before)| b.calls() - before).collect();
    assert_eq!(spread.iter().sum::<usize>(), 30);
    assert!(spread.iter().max().unwrap() - spread.iter().min().unwrap() <= 1, "round robin spread {spread:?}");

    // Graceful shutdown of the first server: deregistered, while it still serves, so only the resolution
    // can keep calls from it.
    registrations.remove(0).deregister().await.unwrap();
    assert!(etcd.get(&key).is_none(), "the key is deleted with the lease");
    let rest = addresses(&[&backends[1], &backends[2]]);
    eventually("the channel dropped the deregistered server", || connected(&channel) == rest).await;
    let first = backends[0].calls();
    call(&health, 20).await;
    assert_eq!(backends[0].calls(), first, "the deregistered server got calls");
}

#[tokio::test]
async fn a_server_that_stops_renewing_its_lease_disappears_when_the_lease_expires() {
    let etcd = Etcd::start();
    let client = EtcdClient::lazy(&etcd.url()).unwrap();
    let (lost, kept) = (Backend::start().await, Backend::start().await);
    let ttl = Duration::from_secs(2);
    let lost_registration = register(&client, "orders", Endpoint::new(lost.addr.to_string()), ttl).await.unwrap();
    let kept_registration = register(&client, "orders", Endpoint::new(kept.addr.to_string()), ttl).await.unwrap();

    let channel = channel_to("orders", &client).await;
    let health = HealthClient::new(channel.clone());
    call(&health, 1).await;
    let both = addresses(&[&lost, &kept]);
    eventually("the channel is connected to both servers", || connected(&channel) == both).await;

    // As a crashed process would: the keep-alive stops and nothing revokes the lease. The server itself
    // still serves, so it is the lease's expiry that must take it out of the channel.
    drop(lost_registration);
    let lost_key = endpoint_key("orders", &lost.addr.to_string());
    eventually("etcd expired the lost server's lease", || !etcd.keys("orders/").contains(&lost_key)).await;
    let only_kept = addresses(&[&kept]);
    eventually("the channel dropped the expired server", || connected(&channel) == only_kept).await;
    let lost_calls = lost.calls();
    call(&health, 10).await;
    assert_eq!(lost.calls(), lost_calls, "the expired server got calls");
    // The other server's lease, as short, was renewed all along.
    assert_eq!(etcd.keys("orders/"), [kept_registration.key().to_owned()]);
}

#[tokio::test]
async fn registrations_and_the_watch_survive_an_etcd_restart() {
    let (logs, _guard) = Logs::capture();
    let mut etcd = Etcd::start();
    let client = EtcdClient::lazy(&etcd.url()).unwrap();
    let (first, second) = (Backend::start().await, Backend::start().await);
    let ttl = Duration::from_secs(4);
    let first_registration = register(&client, "ledger", Endpoint::new(first.addr.to_string()), ttl).await.unwrap();
    let channel = channel_to("ledger", &client).await;
    let health = HealthClient::new(channel.clone());
    call(&health, 1).await;
    eventually("the channel is connected to the first server", || connected(&channel) == addresses(&[&first])).await;

    etcd.restart();
    // Calls go on while etcd is away and back: the channel keeps the addresses it has.
    call(&health, 5).await;
    // Past the lease's TTL: the keep-alive reconnected and kept the first server registered.
    tokio::time::sleep(ttl + Duration::from_secs(1)).await;
    let first_key = first_registration.key().to_owned();
    assert_eq!(etcd.keys("ledger/"), [first_key], "the first registration outlived the restart");

    // The watch resumed: a server registered after the restart is found, and a deregistered one dropped.
    let second_registration = register(&client, "ledger", Endpoint::new(second.addr.to_string()), ttl).await.unwrap();
    let both = addresses(&[&first, &second]);
    eventually("the channel found the server registered after the restart", || connected(&channel) == both).await;
    first_registration.deregister().await.unwrap();
    let only_second = addresses(&[&second]);
    eventually("the channel dropped the deregistered server", || connected(&channel) == only_second).await;
    let before = first.calls();
    call(&health, 10).await;
    assert_eq!(first.calls(), before);
    assert!(logs.lines().iter().any(|l| l.contains("the etcd watch failed; resuming it")), "{:#?}", logs.lines());
    drop(second_registration);
}

#[tokio::test]
async fn a_registration_whose_lease_expired_while_cut_off_registers_again() {
    let (logs, _guard) = Logs::capture();
    let etcd = Etcd::start();
    let proxy = support::Proxy::start(etcd.addr()).await;
    let backend = Backend::start().await;
    let client = EtcdClient::lazy(&proxy.url()).unwrap();
    let registration =
        register(&client, "billing", Endpoint::new(backend.addr.to_string()), Duration::from_secs(2)).await.unwrap();
    let key = registration.key().to_owned();
    assert_eq!(etcd.keys("billing/"), std::slice::from_ref(&key));

    // Cut off for longer than the TTL: etcd expires the lease and deletes the entry.
    proxy.cut().await;
    eventually("etcd expired the cut-off server's lease", || etcd.keys("billing/").is_empty()).await;
    // Back: the keep-alive learns the lease is gone and puts the entry under a new one.
    proxy.restore();
    eventually("the server registered again", || etcd.keys("billing/") == [key.clone()]).await;
    // etcd shows the new entry a moment before the keeper has the answer to its put and logs it.
    eventually("the keeper logged the new registration", || {
        logs.lines().iter().any(|l| l.contains("registered again"))
    })
    .await;
    registration.deregister().await.unwrap();
    assert!(etcd.keys("billing/").is_empty());
}
