//! Bad input is an error protoc prints (the response's `error` field), naming what is wrong and where;
//! never a panic. Each case is a small proto through protoc, and the same through `generate`.

mod support;

use std::process::Command;

use support::*;

const HEADER: &str = r#"syntax = "proto3";
package bad;
import "google/api/annotations.proto";
import "protoc-gen-openapiv2/options/annotations.proto";
message M { string name = 1; }
"#;

/// The error protoc and the `generate` command give for `body` (after HEADER) with `params`.
fn errors(body: &str, params: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.proto"), format!("{HEADER}{body}")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(&[dir.path().to_owned(), openapi_protos()], &["bad.proto"], params, out.path());
    assert!(!output.status.success(), "protoc accepted {body}");
    let protoc = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!protoc.contains("panicked"), "the plugin panicked: {protoc}");
    let mut command = Command::new(plugin());
    command.args(["generate", "-I"]).arg(dir.path()).arg("-I").arg(openapi_protos()).arg("-I").arg(googleapis());
    command.arg("--out").arg(out.path());
    if !params.is_empty() {
        command.arg("--opt").arg(params);
    }
    let output = command.arg(dir.path().join("bad.proto")).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "generate did not fail cleanly: {output:?}");
    (protoc, String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_says(body: &str, params: &str, parts: &[&str]) {
    let (protoc, generate) = errors(body, params);
    for text in [&protoc, &generate] {
        for part in parts {
            assert!(text.contains(part), "expected {part:?} in:\n{text}");
        }
    }
}

const SERVICE: &str = r#"service S { rpc Get(M) returns (M) { option (google.api.http) = { get: "/v1/{name}" }; } }
"#;

#[test]
fn an_unknown_parameter_is_named() {
    assert_says(SERVICE, "openapi_version=3.1,json_names=false", &["unknown parameter \"json_names\"", "merge"]);
    assert_says(SERVICE, "openapi_version=3", &["parameter openapi_version: \"3\" is not 2 or 3.1"]);
}

#[test]
fn an_example_that_is_not_json_names_the_message() {
    let body = r#"message E { option (grpc.gateway.protoc_gen_openapiv2.options.openapiv2_schema) = { example: "{oops" }; }
service S { rpc Get(M) returns (E) { option (google.api.http) = { get: "/v1/{name}" }; } }
"#;
    assert_says(body, "", &["message bad.E: option openapiv2_schema", "example is not JSON"]);
}

#[test]
fn a_security_requirement_without_its_definition_is_named() {
    let body = format!(
        "option (grpc.gateway.protoc_gen_openapiv2.options.openapiv2_swagger) = {{ security: {{ security_requirement: {{ key: \"Nope\" value: {{}} }} }} }};\n{SERVICE}"
    );
    assert_says(&body, "", &["bad.proto: option openapiv2_swagger", "\"Nope\"", "security_definitions"]);
}

#[test]
fn an_option_of_another_type_at_the_same_number_is_named() {
    // Another project's extension 1042 on MethodOptions (an int32, not an Operation message).
    let dir = tempfile::tempdir().unwrap();
    let proto = r#"syntax = "proto3";
package other;
import "google/api/annotations.proto";
import "google/protobuf/descriptor.proto";
extend google.protobuf.MethodOptions { int32 weight = 1042; }
message M { string name = 1; }
service S { rpc Get(M) returns (M) { option (weight) = 7; option (google.api.http) = { get: "/v1/{name}" }; } }
"#;
    std::fs::write(dir.path().join("other.proto"), proto).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(&[dir.path().to_owned()], &["other.proto"], "", out.path());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "protoc accepted it");
    assert!(text.contains("other.proto: an openapiv2") && text.contains("does not decode"), "{text}");
}

#[test]
fn a_broken_http_rule_is_the_gateway_plugins_error() {
    let body = r#"service S { rpc Make(M) returns (M) { option (google.api.http) = { post: "/v1/things" body: "nope" }; } }
"#;
    assert_says(body, "", &["method bad.S.Make", "body field \"nope\" is not a field of bad.M"]);
}

#[test]
fn a_bad_json_schema_type_and_a_foreign_extension_key_are_named() {
    let body = r#"message E { string a = 1 [(grpc.gateway.protoc_gen_openapiv2.options.openapiv2_field) = { type: [STRING, INTEGER] }]; }
service S { rpc Get(M) returns (E) { option (google.api.http) = { get: "/v1/{name}" }; } }
"#;
    assert_says(body, "", &["field bad.E.a: option openapiv2_field", "one type"]);
    let body = r#"service S { rpc Get(M) returns (M) { option (google.api.http) = { get: "/v1/{name}" };
option (grpc.gateway.protoc_gen_openapiv2.options.openapiv2_operation) = { extensions: { key: "audience" value: { string_value: "x" } } }; } }
"#;
    assert_says(body, "", &["method bad.S.Get: option openapiv2_operation", "\"audience\" does not start with x-"]);
}

#[test]
fn a_merged_document_with_one_operation_id_twice_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for package in ["one", "two"] {
        let proto = format!(
            "syntax = \"proto3\";\npackage {package};\nimport \"google/api/annotations.proto\";\nmessage M {{ string name = 1; }}\n\
             service S {{ rpc Get(M) returns (M) {{ option (google.api.http) = {{ get: \"/{package}/{{name}}\" }}; }} }}\n"
        );
        std::fs::write(dir.path().join(format!("{package}.proto")), proto).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(&[dir.path().to_owned()], &["one.proto", "two.proto"], "merge=api", out.path());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "protoc accepted it");
    assert!(text.contains("two.proto: method two.S.Get: operation id \"S_Get\" is already used"), "{text}");
    // One document per file is fine.
    let output = run_protoc(&[dir.path().to_owned()], &["one.proto", "two.proto"], "", out.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
