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
