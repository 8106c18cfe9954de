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

#[test]
fn debug_prints_enum_fields_by_name_and_unknown_numbers_as_numbers() {
    use rsgrpc_tests::gen::rsgrpc::test::v3::{Color, Maps, OptionalScalars, RepeatedScalars, Scalars};
    let scalars = Scalars { f_enum: Color::Red as i32, ..Default::default() };
    assert!(format!("{scalars:?}").contains("f_enum: Red"), "{scalars:?}");
    let unknown = Scalars { f_enum: 42, ..Default::default() };
    assert!(format!("{unknown:?}").contains("f_enum: 42"), "{unknown:?}");
    let optional = OptionalScalars { f_enum: Some(Color::Blue as i32), ..Default::default() };
    assert!(format!("{optional:?}").contains("f_enum: Some(Blue)"), "{optional:?}");
    let repeated = RepeatedScalars { r_enum: vec![Color::Green as i32, 7], ..Default::default() };
    assert!(format!("{repeated:?}").contains("r_enum: [Green, 7]"), "{repeated:?}");
    let maps = Maps { string_to_enum: [("k".to_owned(), Color::Infrared as i32)].into(), ..Default::default() };
    assert!(format!("{maps:?}").contains(r#"string_to_enum: {"k": Infrared}"#), "{maps:?}");
}
