//! Client-side health checking (gRFC A17, `healthCheckConfig.serviceName`): a backend that reports
//! NOT_SERVING gets no calls and gets them again once SERVING; a backend without the health service is
//! taken as healthy; calls fail (UNAVAILABLE, saying why) when no backend is SERVING.

use rsgrpc::Code;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;

use super::backends::{bounded, channel, counts, eventually, hello, Backend};

const SERVICE: &str = "rsgrpc.test.echo.Echo";

fn config(policy: &str) -> String {
    format!(r#"{{"loadBalancingConfig": [{{"{policy}": {{}}}}], "healthCheckConfig": {{"serviceName": "{SERVICE}"}}}}"#)
}

async fn call_n(client: &EchoClient, n: usize) {
    for i in 0..n {
        bounded("a call", client.unary(hello())).await.unwrap_or_else(|status| panic!("call {i} failed: {status}"));
    }
}

fn diff(after: &[usize], before: &[usize]) -> Vec<usize> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

#[tokio::test]
async fn a_not_serving_backend_gets_no_calls_until_it_is_serving_again() {
    let backends = [Backend::start(2).await, Backend::start(3).await, Backend::start(4).await];
    for backend in &backends {
        backend.health.set_serving(SERVICE);
    }
    let channel = channel(&backends, &config("round_robin")).await;
    eventually("every backend connected and SERVING", || channel.connected_addresses().len() == 3).await;
    let client = EchoClient::new(channel.clone());
    call_n(&client, 30).await;
    assert_eq!(counts(&backends), [10, 10, 10]);

    backends[1].health.set_not_serving(SERVICE);
    eventually("the NOT_SERVING backend is left out", || channel.connected_addresses().len() == 2).await;
    let before = counts(&backends);
    call_n(&client, 30).await;
    assert_eq!(diff(&counts(&backends), &before), [15, 0, 15]);

    backends[1].health.set_serving(SERVICE);
    eventually("the backend is taken back", || channel.connected_addresses().len() == 3).await;
    let before = counts(&backends);
    call_n(&client, 30).await;
    assert_eq!(diff(&counts(&backends), &before), [10, 10, 10]);
}

#[tokio::test]
async fn least_request_skips_a_not_serving_backend_too() {
    let backends = [Backend::start(2).await, Backend::start(3).await];
    backends[0].health.set_serving(SERVICE);
    backends[1].health.set_not_serving(SERVICE);
    let channel = channel(&backends, &config("least_request_experimental")).await;
    let client = EchoClient::new(channel);
    call_n(&client, 20).await;
    assert_eq!(counts(&backends), [20, 0]);
}

#[tokio::test]
async fn a_backend_without_the_health_service_counts_as_healthy() {
    let backends = [Backend::start_without_health(2).await, Backend::start_without_health(3).await];
    let channel = channel(&backends, &config("round_robin")).await;
    eventually("both backends taken as healthy", || channel.connected_addresses().len() == 2).await;
    call_n(&EchoClient::new(channel), 20).await;
    assert_eq!(counts(&backends), [10, 10]);
}

#[tokio::test]
async fn with_no_backend_serving_calls_fail_saying_why() {
    // The health service knows nothing of SERVICE here: it answers SERVICE_UNKNOWN.
    let backends = [Backend::start(2).await, Backend::start(3).await];
    let channel = rsgrpc::client::Channel::builder(&super::backends::target(&backends))
        .unwrap()
        .default_service_config(&config("round_robin"))
        .unwrap()
        .connect_lazy();
    let client = EchoClient::new(channel);
    let status = loop {
        // The first calls may wait for the first health answers; once they came, calls fail at once.
        match bounded("a call", client.unary(hello())).await {
            Err(status) if status.message().contains("not SERVING") => break status,
            Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status}"),
            Ok(_) => panic!("a call reached a backend that is not SERVING"),
        }
    };
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert_eq!(counts(&backends), [0, 0]);
}
