//! The code-layout parameters take effect in the generated code (the `options` golden case).

use std::collections::{BTreeMap, HashSet};

use rsgrpc::Message;
use rsgrpc_tests::gen::rsgrpc::test::common::Money;
use rsgrpc_tests::options_gen::rsgrpc::test::{docs, shop};

#[test]
fn extern_path_types_come_from_the_other_module() {
    // `total` is the `gen` module's Money (extern_path), not a copy generated for this case.
    let order = shop::Order {
        id: "o-1".into(),
        total: Some(Money { currency: "EUR".into(), units: 12, ..Default::default() }),
        detail: Some(rsgrpc_tests::gen::rsgrpc::test::v3::outer::middle::Inner { value: 3, ..Default::default() }),
        ..Default::default()
    };
    let decoded = shop::Order::decode(order.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, order);
}

#[test]
fn btree_map_applies_to_the_selected_field() {
    // The field's type is a BTreeMap (this would not compile otherwise), so entries come out sorted.
    let prices: BTreeMap<String, Money> = [("b", 2), ("a", 1)]
        .into_iter()
        .map(|(k, u)| (k.to_owned(), Money { units: u, ..Default::default() }))
        .collect();
    let order = shop::Order { prices, ..Default::default() };
    let decoded = shop::Order::decode(order.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded.prices.keys().collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn type_attribute_derives_on_the_oneof() {
    // `#[derive(Eq, Hash)]` was added by type_attribute; HashSet needs both.
    let mut set = HashSet::new();
    set.insert(docs::documented::Choice::Text("a".into()));
    set.insert(docs::documented::Choice::Text("a".into()));
    assert_eq!(set.len(), 1);
}

#[test]
fn no_client_no_server_and_json_false_leave_parts_out() {
    use rsgrpc_tests::client_only_gen::rsgrpc::test::echo::echo_client::EchoClient;
    use rsgrpc_tests::server_only_gen::rsgrpc::test::echo::echo_server::{Echo, EchoServer};
    // An empty implementation compiles: every method has a default body (UNIMPLEMENTED).
    struct Nothing;
    impl Echo for Nothing {}
    // Each case has its side (this compiles) and not the other.
    let _client: fn(rsgrpc::client::Channel) -> EchoClient = EchoClient::new;
    let _server = EchoServer::new(Nothing);
    let client_only = include_str!("../../testdata/golden/client_only/rsgrpc.test.echo.rs");
    let server_only = include_str!("../../testdata/golden/server_only/rsgrpc.test.echo.rs");
    assert!(client_only.contains("pub mod echo_client") && !client_only.contains("pub mod echo_server"));
    // client_only was also generated with json=false.
    assert!(!client_only.contains("JsonMessage") && !client_only.contains("register_json_types"));
    assert!(server_only.contains("impl ::rsgrpc::json::JsonMessage for EchoRequest"));
    assert!(server_only.contains("pub mod echo_server") && !server_only.contains("pub mod echo_client"));
}
