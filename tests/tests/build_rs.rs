//! The build.rs route: code generated into OUT_DIR by `rsgrpc_codegen::Builder` (see tests/build.rs) compiles
//! and works, nested `include!`s of the module tree included. (That the Builder's output equals protoc's is
//! the golden test's job.)

use rsgrpc::Message;
use rsgrpc_tests::built::rsgrpc::test::shop::{Item, Order};

#[test]
fn generated_in_out_dir_and_usable() {
    let order = Order {
        id: "o-9".into(),
        items: vec![Item { sku: "A".into(), ..Default::default() }],
        prices: [("A".to_owned(), Default::default())].into(),
        ..Default::default()
    };
    let decoded = Order::decode(order.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, order);
    // btree_map=.rsgrpc.test.shop applied: `prices` is a BTreeMap.
    let _: &std::collections::BTreeMap<String, _> = &decoded.prices;
}
