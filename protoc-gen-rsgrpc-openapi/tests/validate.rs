//! Every document the golden cases generate passes openapi-spec-validator (PyPI, tests/py/openapi_validate.py)
//! for its version, 2.0 or 3.1; the validator is shown to reject a broken one; and PyYAML reads each YAML
//! document as the same value as its JSON twin.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn script() -> std::path::PathBuf {
    workspace().join("tests/py/openapi_validate.py")
}

/// Runs the validator on `(version, path)` pairs; its output, and whether every document passed.
fn validate(documents: &[(&str, &Path)]) -> (bool, String) {
    let mut command = Command::new(python());
    command.arg(script()).arg("validate");
    for (version, path) in documents {
        command.arg(format!("{version}={}", path.display()));
    }
    let output = command.output().expect("python runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn version_of(params: &str) -> &'static str {
    if params.contains("openapi_version=3.1") {
        "3.1"
    } else {
        "2"
    }
}

#[test]
fn every_generated_document_is_valid_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let mut documents = Vec::new();
    for case in cases() {
        for (name, content) in through_protoc(&case) {
            let path = dir.path().join(case.name).join(&name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
            documents.push((version_of(case.params), path));
        }
    }
    // Both versions, both formats, per file and merged.
    for wanted in ["swagger.json", "swagger.yaml", "openapi.json", "openapi.yaml"] {
        assert!(documents.iter().any(|(_, p)| p.to_string_lossy().ends_with(wanted)), "no *.{wanted} among the cases");
    }
    let list: Vec<(&str, &Path)> = documents.iter().map(|(v, p)| (*v, p.as_path())).collect();
    let (ok, output) = validate(&list);
    assert!(ok, "openapi-spec-validator rejected a document:\n{output}");
    assert_eq!(output.matches("valid OpenAPI").count(), documents.len(), "{output}");
}

#[test]
fn the_validator_rejects_a_broken_document() {
    let case = cases().into_iter().find(|c| c.name == "gateway_v31").unwrap();
    let (_, content) = through_protoc(&case).into_iter().next().unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&content).unwrap();
    // A path parameter that is not required is invalid in every version.
    let parameter = &mut document["paths"]["/v1/shelves/{shelf_id}"]["get"]["parameters"][0];
    assert_eq!(parameter["in"], "path", "the case changed: {parameter}");
    parameter["required"] = serde_json::json!(false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.openapi.json");
    std::fs::write(&path, document.to_string()).unwrap();
    let (ok, output) = validate(&[("3.1", &path)]);
    assert!(!ok && output.contains("INVALID"), "the validator accepted a broken document:\n{output}");
}

#[test]
fn yaml_documents_read_as_their_json_twins() {
    let kitchen = through_protoc(&cases().into_iter().find(|c| c.name == "kitchen_v31").unwrap());
    let yaml = through_protoc(&cases().into_iter().find(|c| c.name == "kitchen_v31_yaml").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (json_name, json_text) = kitchen.into_iter().next().unwrap();
    let (yaml_name, yaml_text) = yaml.into_iter().next().unwrap();
    assert_eq!(json_name.replace(".json", ".yaml"), yaml_name);
    let (json_path, yaml_path) = (dir.path().join("a.json"), dir.path().join("a.yaml"));
    std::fs::write(&json_path, json_text).unwrap();
    std::fs::write(&yaml_path, yaml_text).unwrap();
    let output = Command::new(python()).arg(script()).arg("same").arg(&json_path).arg(&yaml_path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn the_codegen_test_protos_with_every_method_bound_give_valid_documents() {
    // testdata/protos: proto2 and proto3, groups, keyword and colliding names, every scalar and map kind,
    // streaming services; generate_unbound_methods gives every method a route.
    let dir = tempfile::tempdir().unwrap();
    let mut documents = Vec::new();
    for (version, params) in
        [("2", "generate_unbound_methods"), ("3.1", "generate_unbound_methods,openapi_version=3.1")]
    {
        let out = dir.path().join(version);
        let output = Command::new(plugin())
            .arg("generate")
            .arg("-I")
            .arg(workspace().join("testdata/protos"))
            .arg("-I")
            .arg(googleapis())
            .arg("--out")
            .arg(&out)
            .args(["--opt", params])
            .arg(workspace().join("testdata/protos"))
            .output()
            .unwrap();
        assert!(output.status.success(), "generate failed: {}", String::from_utf8_lossy(&output.stderr));
        documents.extend(read_tree(&out).into_keys().map(|name| (version, out.join(name))));
    }
    assert!(documents.len() >= 20, "only {} documents", documents.len());
    let list: Vec<(&str, &Path)> = documents.iter().map(|(v, p)| (*v, p.as_path())).collect();
    let (ok, output) = validate(&list);
    assert!(ok, "openapi-spec-validator rejected a document:\n{output}");
}
