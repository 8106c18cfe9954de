//! Never a panic on bad input: real requests with random bytes flipped must give a response (files or an
//! error), whatever they decode to.

mod support;

use prost::Message;
use prost_types::compiler::CodeGeneratorRequest;
use rsgrpc_codegen::{embedded, plugin};
use support::*;

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn real_request() -> Vec<u8> {
    let files: Vec<_> = ["rsgrpc/test/proto2.proto", "rsgrpc/test/scalars.proto", "rsgrpc/test/recursive.proto"]
        .iter()
        .map(|f| protos_dir().join(f))
        .collect();
    let (proto_file, file_to_generate) = embedded::parse(&[protos_dir()], &files).expect("testdata parses");
    CodeGeneratorRequest { file_to_generate, proto_file, ..Default::default() }.encode_to_vec()
}

#[test]
fn mutated_requests_never_panic() {
    let original = real_request();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut decoded, mut answered_with_error) = (0, 0);
    for round in 0..600 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
        }
        let Ok(request) = plugin::decode_request(&bytes) else { continue };
        decoded += 1;
        let response = std::panic::catch_unwind(|| plugin::run(&request))
            .unwrap_or_else(|_| panic!("round {round}: the generator panicked on a mutated request"));
        if response.error.is_some() {
            answered_with_error += 1;
        } else {
            assert!(!response.file.is_empty(), "round {round}: neither files nor an error");
        }
    }
    // Enough of the mutations must get past decoding to exercise the generator itself.
    assert!(decoded > 200, "only {decoded} mutated requests decoded");
    eprintln!("{decoded} mutated requests decoded, {answered_with_error} answered with an error");
}

// ---------------------------------------------------------------------------------------------------------
// Hand-built requests: inputs protoc would never send (or sends, but unusual), each answered with an error
// naming the element, or with code that parses, never with a panic.

mod hand_built {
    use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::source_code_info::Location;
    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto, OneofDescriptorProto,
        ServiceDescriptorProto, SourceCodeInfo,
    };
    use rsgrpc_codegen::plugin;

    fn file(name: &str, package: &str, syntax: &str) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.into()),
            package: Some(package.into()),
            syntax: Some(syntax.into()),
            ..Default::default()
        }
    }

    fn field(name: &str, number: i32, ty: Type) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            r#type: Some(ty as i32),
            label: Some(Label::Optional as i32),
            ..Default::default()
        }
    }

    fn message(name: &str, field: Vec<FieldDescriptorProto>) -> DescriptorProto {
        DescriptorProto { name: Some(name.into()), field, ..Default::default() }
    }

    /// `p.proto` (package `p`, proto3) with a message `M { int32 x = 1; }`.
    fn base() -> FileDescriptorProto {
        let mut file = file("p.proto", "p", "proto3");
        file.message_type.push(message("M", vec![field("x", 1, Type::Int32)]));
        file
    }

    fn service(name: &str, methods: &[&str]) -> ServiceDescriptorProto {
        let method = methods
            .iter()
            .map(|name| MethodDescriptorProto {
                name: Some((*name).into()),
                input_type: Some(".p.M".into()),
                output_type: Some(".p.M".into()),
                ..Default::default()
            })
            .collect();
        ServiceDescriptorProto { name: Some(name.into()), method, ..Default::default() }
    }

    /// Runs the plugin on `files`, generating all of them; a panic fails the test with its message.
    fn run(files: Vec<FileDescriptorProto>) -> CodeGeneratorResponse {
        let request = CodeGeneratorRequest {
            file_to_generate: files.iter().map(|f| f.name().to_owned()).collect(),
            proto_file: files,
            ..Default::default()
        };
        std::panic::catch_unwind(|| plugin::run(&request)).unwrap_or_else(|panic| {
            let message =
                panic.downcast_ref::<String>().cloned().or(panic.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("the plugin panicked: {message:?}")
        })
    }

    /// The response's error, which must hold every one of `expected`.
    fn assert_error(files: Vec<FileDescriptorProto>, expected: &[&str]) {
        let response = run(files);
        let error = response.error.unwrap_or_else(|| panic!("no error; expected one containing {expected:?}"));
        for part in expected {
            assert!(error.contains(part), "expected {part:?} in the error: {error}");
        }
    }

    /// The generated package files, each checked to parse as Rust.
    fn generated(files: Vec<FileDescriptorProto>) -> Vec<String> {
        let response = run(files);
        assert_eq!(response.error, None);
        let mut contents = Vec::new();
        for file in response.file {
            syn::parse_file(file.content()).unwrap_or_else(|e| panic!("{} does not parse: {e}", file.name()));
            contents.push(file.content().to_owned());
        }
        contents
    }

    #[test]
    fn names_that_are_not_identifiers_are_named() {
        for name in ["A²", "", "1abc", "a::b", "a b", "é", "a-b", "\u{200b}"] {
            let mut bad = base();
            bad.message_type[0].name = Some(name.into());
            assert_error(vec![bad], &["p.proto", &format!("message name `{name}` is not a valid identifier")]);
            let mut bad = base();
            bad.message_type[0].field[0].name = Some(name.into());
            assert_error(vec![bad], &["p.proto", &format!("field name `{name}` is not a valid identifier")]);
            let mut bad = base();
            bad.service.push(service("S", &[name]));
            assert_error(vec![bad], &["p.proto", &format!("method name `{name}` is not a valid identifier")]);
        }
    }

    #[test]
    fn method_names_that_case_conversion_empties_still_generate() {
        // `_` and `_1` are identifiers protoc accepts; their SHOUTY_SNAKE constant once was `` and `1`, which
        // `format_ident!` refuses with a panic.
        for name in ["_", "__", "_1"] {
            let mut file = base();
            file.service.push(service("S", &[name]));
            let code = generated(vec![file]).join("\n");
            assert!(code.contains(&format!("= \"{name}\";")), "no constant for method {name}:\n{code}");
        }
    }

    #[test]
    fn a_service_whose_name_converts_to_digits_gets_modules() {
        // Found by the plugin_structured fuzz target: service `_1` gave the module `1_client`, a panic.
        for name in ["_1", "_9Lives"] {
            let mut file = base();
            file.service.push(service(name, &["A"]));
            let code = generated(vec![file]).join("\n");
            assert!(code.contains("_client {") && code.contains("_server {"), "{code}");
        }
    }

    #[test]
    fn methods_whose_names_convert_alike_get_distinct_rust_names() {
        let mut file = base();
        file.service.push(service("S", &["getThing", "GetThing"]));
        let code = generated(vec![file]).join("\n");
        for item in ["pub async fn get_thing(", "pub async fn get_thing_(", "fn get_thing(", "fn get_thing_("] {
            assert!(code.contains(item), "{item} missing:\n{code}");
        }
        assert!(code.contains("pub const GET_THING: &str") && code.contains("pub const GET_THING_: &str"), "{code}");
    }

    #[test]
    fn bad_field_numbers_are_named() {
        for number in [0, -1, 536_870_912, i32::MAX, 19_000, 19_999] {
            let mut bad = base();
            bad.message_type[0].field[0].number = Some(number);
            assert_error(vec![bad], &["p.proto: field p.M.x", &format!("field number {number} is")]);
        }
        let mut duplicate = base();
        duplicate.message_type[0].field.push(field("y", 1, Type::String));
        assert_error(vec![duplicate], &["p.proto: message p.M", "fields `x` and `y` both have number 1"]);
        // A oneof member counts too.
        let mut in_oneof = base();
        let mut member = field("z", 1, Type::String);
        member.oneof_index = Some(0);
        in_oneof.message_type[0].field.push(member);
        in_oneof.message_type[0].oneof_decl.push(OneofDescriptorProto { name: Some("o".into()), ..Default::default() });
        assert_error(vec![in_oneof], &["message p.M", "fields `x` and `z` both have number 1"]);
    }

    #[test]
    fn oneof_members_with_one_variant_name_are_named() {
        let mut bad = base();
        for (name, number) in [("foo_bar", 2), ("fooBar", 3)] {
            let mut member = field(name, number, Type::String);
            member.oneof_index = Some(0);
            bad.message_type[0].field.push(member);
        }
        bad.message_type[0].oneof_decl.push(OneofDescriptorProto { name: Some("o".into()), ..Default::default() });
        assert_error(vec![bad], &["message p.M", "oneof `o`: members `foo_bar` and `fooBar`", "`FooBar`"]);
    }

    #[test]
    fn hex_defaults_with_a_second_sign_are_named() {
        // `-0x-8...` once negated i128::MIN (a panic); protoc writes neither `0x-1` nor `-0x-1`.
        for text in ["-0x-80000000000000000000000000000000", "0x-1", "-0x-1", "0x+5"] {
            let mut bad = file("p.proto", "p", "proto2");
            let mut with_default = field("x", 1, Type::Int64);
            with_default.default_value = Some(text.into());
            bad.message_type.push(message("M", vec![with_default]));
            assert_error(vec![bad], &["p.proto: field p.M.x", &format!("invalid default value `{text}`")]);
        }
    }

    #[test]
    fn packages_that_map_to_one_module_are_named() {
        // Before, both package files were written and the module tree included only one of them.
        let mut upper = file("a.proto", "Shop", "proto3");
        upper.message_type.push(message("A", vec![]));
        let mut lower = file("b.proto", "shop", "proto3");
        lower.message_type.push(message("B", vec![]));
        assert_error(vec![upper, lower], &["package `shop`", "package `Shop` maps to the same Rust module `shop`"]);
    }

    #[test]
    fn modules_that_collide_are_named() {
        let mut two_services = base();
        two_services.service.push(service("Shop", &["A"]));
        two_services.service.push(service("shop", &["B"]));
        assert_error(vec![two_services], &["package `p`", "service p.Shop and service p.shop", "`shop_client`"]);

        let mut message_and_service = base();
        let mut server = message("FooServer", vec![]);
        server.nested_type.push(message("Inner", vec![]));
        message_and_service.message_type.push(server);
        message_and_service.service.push(service("Foo", &["A"]));
        assert_error(
            vec![message_and_service],
            &["package `p`", "message p.FooServer and service p.Foo both need the Rust module `foo_server`"],
        );
    }

    #[test]
    fn a_file_name_with_a_line_break_is_named() {
        // It would end the `// source:` comment and put the rest of the name into the code.
        let mut bad = base();
        bad.name = Some("p\nfn injected() {}\n.proto".into());
        assert_error(vec![bad], &["file \"p\\nfn injected() {}\\n.proto\"", "control character"]);
    }

    #[test]
    fn a_bare_carriage_return_in_a_comment_gives_code_that_parses() {
        // rustc (and syn) refuse a bare CR in a doc comment.
        let mut file = base();
        let location =
            Location { path: vec![4, 0], leading_comments: Some(" one\rtwo\r\n".into()), ..Default::default() };
        file.source_code_info = Some(SourceCodeInfo { location: vec![location] });
        let code = generated(vec![file]).join("\n");
        assert!(code.contains("/// onetwo"), "{code}");
    }

    #[test]
    fn missing_types_dangling_references_and_odd_dependencies() {
        let mut untyped = base();
        untyped.message_type[0].field[0].r#type = None;
        assert_error(vec![untyped], &["p.proto: field p.M.x", "field has no valid type"]);
        let mut dangling = base();
        dangling.message_type[0].field[0].r#type = Some(Type::Message as i32);
        dangling.message_type[0].field[0].type_name = Some(".p.Nope".into());
        assert_error(vec![dangling], &["p.proto: field p.M.x", "type `.p.Nope` is not defined"]);
        let mut bad_input = base();
        bad_input.service.push(service("S", &["A"]));
        bad_input.service[0].method[0].input_type = Some("M".into());
        assert_error(vec![bad_input], &["method p.S.A", "type `M` is not a message of the request"]);
        // An import of itself and of a file the request does not hold: generated, not looped on.
        let mut cyclic = base();
        cyclic.dependency = vec!["p.proto".into(), "absent.proto".into()];
        cyclic.service.push(service("S", &["A"]));
        generated(vec![cyclic]);
    }

    #[test]
    fn a_dangling_reference_outside_the_generated_files_is_no_panic() {
        // Found by the plugin fuzz target: the pass deciding which messages can derive Eq and Hash looks at
        // every message of the request, and asked for the Rust path of a type the request does not define.
        let mut imported = file("dep.proto", "dep", "proto3");
        let mut dangling = field("x", 1, Type::Message);
        dangling.type_name = Some(".dep.Nope".into());
        imported.message_type.push(message("D", vec![dangling]));
        let request = CodeGeneratorRequest {
            file_to_generate: vec!["p.proto".into()],
            proto_file: vec![imported, base()],
            ..Default::default()
        };
        let response = std::panic::catch_unwind(|| plugin::run(&request)).expect("no panic");
        assert_eq!(response.error, None);
        let mut here = base();
        here.message_type[0].field[0].r#type = Some(Type::Message as i32);
        here.message_type[0].field[0].type_name = Some(".p.Nope".into());
        assert_error(vec![here], &["p.proto: field p.M.x", "type `.p.Nope` is not defined"]);
    }

    #[test]
    fn a_deep_import_chain_does_not_overflow_the_stack() {
        // The descriptor set for reflection embeds every import; walking them recursively overflowed the test
        // thread's stack on a long chain.
        const DEPTH: usize = 20_000;
        let mut files: Vec<FileDescriptorProto> = (0..DEPTH)
            .map(|i| {
                let mut f = file(&format!("d{i}.proto"), "deep", "proto3");
                if i + 1 < DEPTH {
                    f.dependency.push(format!("d{}.proto", i + 1));
                }
                f
            })
            .collect();
        let mut top = base();
        top.dependency.push("d0.proto".into());
        top.service.push(service("S", &["A"]));
        files.insert(0, top);
        let request =
            CodeGeneratorRequest { file_to_generate: vec!["p.proto".into()], proto_file: files, ..Default::default() };
        let response = plugin::run(&request);
        assert_eq!(response.error, None);
    }
}
