//! prost's derives where every field allows them: `Eq` and `Hash` on messages (and their oneofs) without
//! floats, `HashMap`s or foreign types, so they can be set members and map keys.

use std::collections::HashSet;

use rsgrpc_tests::gen::helloworld::HelloRequest;
use rsgrpc_tests::gen::routeguide::{Point, Rectangle};
use rsgrpc_tests::gen::rsgrpc::test::collisions as c;

fn hashable<T: Eq + std::hash::Hash>() {}

#[test]
fn messages_without_floats_or_hash_maps_are_eq_and_hash() {
    hashable::<HelloRequest>();
    hashable::<Rectangle>();
    hashable::<c::Result>();
    hashable::<c::result::Value>();
    let mut seen = HashSet::new();
    assert!(seen.insert(Point { latitude: 1, longitude: 2, ..Default::default() }));
    assert!(!seen.insert(Point { latitude: 1, longitude: 2, ..Default::default() }));
    let ok = |text: &str| c::Result { value: Some(c::result::Value::Ok(text.into())), ..Default::default() };
    let results: HashSet<_> = [ok("a"), ok("a"), ok("b")].into_iter().collect();
    assert_eq!(results.len(), 2);
}
