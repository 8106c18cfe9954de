//! `grpc_api_configuration`: HTTP rules from a gRPC service-config YAML instead of (or besides) annotations,
//! as grpc-gateway reads them:
//!
//! ```yaml
//! type: google.api.Service
//! config_version: 3
//! http:
//!   rules:
//!     - selector: pkg.Service.Method
//!       get: /v1/things/{id}
//!       additional_bindings:
//!         - post: /v1/things:lookup
//!           body: "*"
//! ```
//!
//! A rule here is used besides the method's annotation (both bind it), as in grpc-gateway.

use yaml_rust2::{Yaml, YamlLoader};

use crate::rules::{CustomPattern, HttpRule, Pattern, Rules};

/// The rules of a service-config YAML; `source` names it in errors.
pub fn rules_from_yaml(text: &str, source: &str) -> Result<Rules, String> {
    let fail = |path: &str, problem: &str| format!("{source}: {path}: {problem}");
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("{source}: not YAML: {e}"))?;
    let Some(doc) = docs.first() else { return Err(format!("{source}: the file is empty")) };
    let rules = &doc["http"]["rules"];
    let list = match rules {
        Yaml::Array(list) => list,
        Yaml::BadValue => return Err(fail("http.rules", "missing (the HTTP rules go under http: rules:)")),
        _ => return Err(fail("http.rules", "expected a list of rules")),
    };
    let mut result = Rules::new();
    for (index, item) in list.iter().enumerate() {
        let path = format!("http.rules[{index}]");
        let rule = rule(item, &path, true).map_err(|(path, problem)| fail(&path, &problem))?;
        if rule.selector.is_empty() {
            return Err(fail(&path, "selector is missing (package.Service.Method)"));
        }
        let selector = rule.selector.clone();
        if result.insert(selector.clone(), rule).is_some() {
            return Err(fail(&path, &format!("a second rule for {selector}")));
        }
    }
    Ok(result)
}

fn text(value: &Yaml, path: &str) -> Result<String, (String, String)> {
    match value {
        Yaml::String(text) => Ok(text.clone()),
        _ => Err((path.to_owned(), "expected a string".to_owned())),
    }
}

fn rule(item: &Yaml, path: &str, top: bool) -> Result<HttpRule, (String, String)> {
    let Yaml::Hash(map) = item else { return Err((path.to_owned(), "expected a mapping".to_owned())) };
    let mut rule = HttpRule::default();
    for (key, value) in map {
        let Yaml::String(key) = key else { return Err((path.to_owned(), "keys must be strings".to_owned())) };
        let field = format!("{path}.{key}");
        let pattern = match key.as_str() {
            "selector" if top => {
                rule.selector = text(value, &field)?;
                None
            }
            "get" => Some(Pattern::Get(text(value, &field)?)),
            "put" => Some(Pattern::Put(text(value, &field)?)),
            "post" => Some(Pattern::Post(text(value, &field)?)),
            "delete" => Some(Pattern::Delete(text(value, &field)?)),
            "patch" => Some(Pattern::Patch(text(value, &field)?)),
            "custom" => Some(Pattern::Custom(CustomPattern {
                kind: text(&value["kind"], &format!("{field}.kind"))?,
                path: text(&value["path"], &format!("{field}.path"))?,
            })),
            "body" => {
                rule.body = text(value, &field)?;
                None
            }
            "response_body" => {
                rule.response_body = text(value, &field)?;
                None
            }
            "additional_bindings" if top => {
                let Yaml::Array(list) = value else { return Err((field, "expected a list of rules".to_owned())) };
                for (index, item) in list.iter().enumerate() {
                    rule.additional_bindings.push(self::rule(item, &format!("{field}[{index}]"), false)?);
                }
                None
            }
            other => return Err((field, format!("unknown key {other:?}"))),
        };
        if let Some(pattern) = pattern {
            if rule.pattern.is_some() {
                return Err((field, "a rule has one of get, put, post, delete, patch or custom".to_owned()));
            }
            rule.pattern = Some(pattern);
        }
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_errors() {
        let yaml = r#"
type: google.api.Service
config_version: 3
http:
  rules:
    - selector: pkg.S.Get
      get: /v1/things/{id}
      additional_bindings:
        - post: /v1/things:lookup
          body: "*"
    - selector: pkg.S.Find
      custom: {kind: SEARCH, path: /v1/things}
      body: "*"
      response_body: things
"#;
        let rules = rules_from_yaml(yaml, "api.yaml").unwrap();
        let get = &rules["pkg.S.Get"];
        assert_eq!(get.pattern, Some(Pattern::Get("/v1/things/{id}".into())));
        assert_eq!(get.additional_bindings[0].body, "*");
        let find = &rules["pkg.S.Find"];
        assert_eq!(find.method_and_template(), Some(("SEARCH".to_owned(), "/v1/things")));
        assert_eq!(find.response_body, "things");

        let cases = [
            ("http: {}", "api.yaml: http.rules: missing"),
            ("http:\n  rules:\n    - get: /x", "api.yaml: http.rules[0]: selector is missing"),
            (
                "http:\n  rules:\n    - selector: a.B.C\n      get: /x\n      post: /y",
                "http.rules[0].post: a rule has one of",
            ),
            ("http:\n  rules:\n    - selector: a.B.C\n      gett: /x", "http.rules[0].gett: unknown key \"gett\""),
            ("http:\n  rules: [1", "api.yaml: not YAML"),
        ];
        for (yaml, message) in cases {
            let error = rules_from_yaml(yaml, "api.yaml").unwrap_err();
            assert!(error.contains(message), "{yaml}: {error}");
        }
    }
}
