//! Rules that cannot work are plugin errors naming the file, the method and the problem (protoc prints
//! them and fails); parameters are checked too.

mod support;

use support::*;

/// A proto with one service method `M` taking `Req` and returning `Res`, with `rule` as its option body
/// (and `extra` methods and messages).
fn proto(rule: &str, extra: &str) -> String {
    format!(
        r#"syntax = "proto3";
package bad;
import "google/api/annotations.proto";
message Inner {{ string id = 1; repeated string tags = 2; }}
message Req {{ string name = 1; repeated string ids = 2; map<string, string> labels = 3; Inner inner = 4; int32 count = 5; }}
message Res {{ string title = 1; }}
service S {{
  rpc M(Req) returns (Res) {{ option (google.api.http) = {{ {rule} }}; }}
  {extra}
}}
"#
    )
}

fn generate(source: &str, params: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.proto"), source).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(dir.path(), &["bad.proto"], params, out.path());
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn invalid_rules_are_named() {
    let cases = [
        (r#"get: "/v1/x" body: "*""#, "", "a GET rule cannot have a body"),
        (
            r#"delete: "/v1/x" body: "*""#,
            "",
            "a DELETE rule cannot have a body (the allow_delete_body parameter allows it)",
        ),
        (r#"post: "/v1/x" body: "nope""#, "", "body field \"nope\" is not a field of bad.Req"),
        (r#"get: "/v1/{missing}""#, "", "path variable {missing}: bad.Req has no field \"missing\""),
        (r#"get: "/v1/{ids}""#, "", "path variable {ids}: field \"ids\" is repeated"),
        (r#"get: "/v1/{labels}""#, "", "path variable {labels}: field \"labels\" is a map"),
        (r#"get: "/v1/{inner}""#, "", "path variable {inner}: field \"inner\" is a message, not a value"),
        (r#"get: "/v1/{inner.tags}""#, "", "path variable {inner.tags}: field \"tags\" is repeated"),
        (r#"get: "/v1/{name.x}""#, "", "field \"name\" is not a message, so it has no field \"x\""),
        (r#"get: "/v1/{name" "#, "", "invalid path template \"/v1/{name\" at offset 9: unclosed variable"),
        (r#"get: "v1/x""#, "", "a template starts with '/'"),
        (r#"get: "/v1/x" response_body: "nope""#, "", "response_body field \"nope\" is not a field of bad.Res"),
        (r#"body: "*""#, "", "the google.api.http rule has no method and path"),
        (r#"custom: { kind: "" path: "/v1/x" }"#, "", "\"\" is not an HTTP method"),
        (
            r#"get: "/v1/{name}""#,
            r#"rpc N(Req) returns (Res) { option (google.api.http) = { get: "/v1/{count}" }; }"#,
            "method bad.S.N: GET /v1/{count} is already bound to bad.S.M",
        ),
        (
            r#"get: "/v1/a" additional_bindings { get: "/v1/b" additional_bindings { get: "/v1/c" } }"#,
            "",
            "an additional binding cannot have additional bindings",
        ),
        (
            r#"get: "/v1/a""#,
            r#"rpc Up(stream Req) returns (Res) { option (google.api.http) = { post: "/v1/up" body: "name" }; }"#,
            "a client-streaming method's rule needs body: \"*\"",
        ),
    ];
    for (rule, extra, message) in cases {
        let error = generate(&proto(rule, extra), "").expect_err(rule);
        assert!(error.contains("bad.proto: method bad.S."), "{rule}: no file and method in {error:?}");
        assert!(error.contains(message), "{rule}: expected {message:?} in {error:?}");
    }
}

#[test]
fn parameters_relax_or_are_checked() {
    let delete_with_body = proto(r#"delete: "/v1/x" body: "*""#, "");
    generate(&delete_with_body, "allow_delete_body").expect("allowed by the parameter");
    let error = generate(&proto(r#"get: "/v1/x""#, ""), "grpc_api_configuration=/no/such/api.yaml").unwrap_err();
    assert!(error.contains("grpc_api_configuration: cannot read /no/such/api.yaml"), "{error}");
    let error = generate(&proto(r#"get: "/v1/x""#, ""), "no_such_parameter").unwrap_err();
    assert!(error.contains("no_such_parameter"), "{error}");
}

#[test]
fn unbound_methods_are_served_with_generate_unbound_methods() {
    let out = tempfile::tempdir().unwrap();
    let include = workspace().join("testdata/gateway/protos");
    let output = run_protoc(&include, &["rsgrpc/test/gateway/library.proto"], "generate_unbound_methods", out.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let code = std::fs::read_to_string(out.path().join("rsgrpc.test.gateway.rs")).unwrap();
    assert!(code.contains("template: \"/rsgrpc.test.gateway.Library/Ping\""), "no route for Ping");
    // Without the parameter Ping has none.
    let without = through_protoc(&["rsgrpc/test/gateway/library.proto"], "");
    assert!(
        !without["rsgrpc.test.gateway.rs"].contains("template: \"/rsgrpc.test.gateway.Library/Ping\""),
        "Ping was bound"
    );
}

#[test]
fn garbage_on_stdin_is_a_clear_failure() {
    use std::io::Write;
    let mut child = std::process::Command::new(gateway_plugin())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"\xff\xff\xff not a request").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("protoc-gen-rsgrpc-gateway: "), "{stderr}");
    assert!(stderr.contains("CodeGeneratorRequest"), "{stderr}");
}

#[test]
fn rules_from_a_service_config_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("api.yaml");
    let rules = "type: google.api.Service\nconfig_version: 3\nhttp:\n  rules:\n    - selector: rsgrpc.test.gateway.Library.Ping\n      get: /v1/ping\n    - selector: rsgrpc.test.gateway.Library.GetShelf\n      get: /v2/shelves/{shelf_id}\n";
    std::fs::write(&yaml, rules).unwrap();
    let params = format!("grpc_api_configuration={}", yaml.display());
    let out = tempfile::tempdir().unwrap();
    let include = workspace().join("testdata/gateway/protos");
    let output = run_protoc(&include, &["rsgrpc/test/gateway/library.proto"], &params, out.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let code = std::fs::read_to_string(out.path().join("rsgrpc.test.gateway.rs")).unwrap();
    assert!(code.contains("template: \"/v1/ping\""), "the unannotated method got its YAML rule");
    assert!(code.contains("template: \"/v2/shelves/{shelf_id}\""), "the YAML rule binds the method");
    assert!(code.contains("template: \"/v1/shelves/{shelf_id}\","), "and so does its annotation still");

    std::fs::write(&yaml, "http:\n  rules:\n    - selector: rsgrpc.test.gateway.Library.Nope\n      get: /v1/x\n")
        .unwrap();
    let output = run_protoc(&include, &["rsgrpc/test/gateway/library.proto"], &params, out.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("selector rsgrpc.test.gateway.Library.Nope names no method"), "{stderr}");
}

#[test]
fn methods_whose_names_give_the_same_spec_name_get_distinct_ones() {
    let extra = r#"rpc getThing(Req) returns (Res) { option (google.api.http) = { get: "/v1/a/{name}" }; }
  rpc GetThing(Req) returns (Res) { option (google.api.http) = { get: "/v1/b/{name}" }; }"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.proto"), proto(r#"get: "/v1/m""#, extra)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(dir.path(), &["bad.proto"], "", out.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let code = std::fs::read_to_string(out.path().join("bad.rs")).unwrap();
    let statics: Vec<&str> = code.lines().filter(|l| l.trim_start().starts_with("pub static ")).collect();
    let mut names: Vec<&str> = statics.iter().map(|l| l.split_whitespace().nth(2).unwrap()).collect();
    names.sort();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "duplicate statics: {statics:?}");
    assert_eq!(count, 3, "{statics:?}");
}

#[test]
fn a_method_whose_name_case_conversion_empties_gets_a_route() {
    // `_` is an identifier protoc accepts; its SHOUTY_SNAKE spec name was once empty, a panic in both plugins.
    let extra = r#"rpc _(Req) returns (Res) { option (google.api.http) = { get: "/v1/underscore" }; }
  rpc _1(Req) returns (Res) { option (google.api.http) = { get: "/v1/one" }; }"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.proto"), proto(r#"get: "/v1/m""#, extra)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(dir.path(), &["bad.proto"], "", out.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let code = std::fs::read_to_string(out.path().join("bad.rs")).unwrap();
    assert!(code.contains("\"/v1/underscore\"") && code.contains("\"/v1/one\""), "{code}");
}

#[test]
fn editions_files_get_their_gateway_and_bad_rules_in_them_are_still_named() {
    let source = r#"edition = "2023";
package ed;
import "google/api/annotations.proto";
message Req { string id = 1; int32 n = 2 [features.field_presence = IMPLICIT]; }
service S { rpc Get(Req) returns (Req) { option (google.api.http) = { get: "/v1/{id}" }; } }
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ed.proto"), source).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(dir.path(), &["ed.proto"], "", out.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let generated = std::fs::read_to_string(out.path().join("ed.rs")).unwrap();
    assert!(generated.contains("/v1/"), "the gateway's routes are inserted");
    assert!(generated.contains("pub id: ::core::option::Option<::std::string::String>"), "explicit presence");

    let bad = source.replace("/v1/{id}", "/v1/{missing}");
    let error = generate(&bad.replace("edition = \"2023\";\npackage ed;", "edition = \"2023\";\npackage bad;"), "");
    assert!(error.unwrap_err().contains("missing"));
}
