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

#[test]
fn drop_unknown_fields_gives_prosts_struct_shape_copy_and_drops_what_it_does_not_know() {
    use rsgrpc::Message;
    use rsgrpc_tests::prost_compat::routeguide::{Point, Rectangle};
    use rsgrpc_tests::prost_compat::rsgrpc::test::v2::{ClosedEnums, Size};
    // A prost-style literal, every field named and no `..Default::default()`; and `Copy`.
    let point = Point { latitude: 1, longitude: 2 };
    let copied = point;
    assert_eq!(point, copied);
    let rectangle = Rectangle { lo: Some(point), hi: None };
    // A field this code does not know (number 9) is read past and not written back, as prost does.
    let mut bytes = rectangle.encode_to_vec();
    bytes.extend_from_slice(&[0x48, 0x07]);
    let read = Rectangle::decode(bytes.as_slice()).unwrap();
    assert_eq!(read, rectangle);
    assert_eq!(read.encode_to_vec(), rectangle.encode_to_vec());
    // An undeclared value of a closed enum is dropped too, the declared ones kept.
    let enums = ClosedEnums::decode(&[0x08, 0x63, 0x10, 0x02][..]).unwrap();
    assert_eq!((enums.single, enums.many.as_slice()), (None, &[Size::Medium as i32][..]));
}

#[test]
fn without_a_descriptor_set_a_service_has_none_for_reflection() {
    use rsgrpc::server::Service;
    use rsgrpc_tests::prost_compat::routeguide::route_guide_server::{RouteGuide, RouteGuideServer};
    struct Guide;
    impl RouteGuide for Guide {}
    assert!(RouteGuideServer::new(Guide).file_descriptor_set().is_empty());
    let source = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/prost_compat/routeguide.rs")).unwrap();
    assert!(!source.contains("FILE_DESCRIPTOR_SET"));
}

#[test]
fn debug_prints_enum_fields_and_enum_oneof_members_by_name() {
    use rsgrpc_tests::gen::rsgrpc::test::v2::closed_enums::Pick;
    use rsgrpc_tests::gen::rsgrpc::test::v2::{ClosedEnums, Size};
    let enums = ClosedEnums {
        single: Some(Size::Small as i32),
        pick: Some(Pick::Picked(Size::Large as i32)),
        ..Default::default()
    };
    let text = format!("{enums:?}");
    assert!(text.contains("single: Some(Small)"), "{text}");
    assert!(text.contains("Picked(Large)"), "{text}");
    // A value the enum does not declare prints as its number; other members as they are.
    assert_eq!(format!("{:?}", Pick::Picked(42)), "Picked(42)");
    assert_eq!(format!("{:?}", Pick::Other("x".into())), "Other(\"x\")");
}
