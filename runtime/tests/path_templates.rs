//! The path-template corpus (testdata/gateway/path_templates.txt): every valid template matched against
//! paths with the expected bindings, every invalid one refused with the expected message.

use std::collections::BTreeMap;

use rsgrpc::gateway::PathTemplate;

#[test]
fn the_corpus() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/gateway/path_templates.txt");
    let corpus = std::fs::read_to_string(path).expect("the corpus");
    let (mut matches, mut invalid) = (0, 0);
    for (number, line) in corpus.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (case, expected) = line.split_once(" => ").unwrap_or_else(|| panic!("line {number}: no ' => '"));
        let words: Vec<&str> = case.split_whitespace().collect();
        match words.as_slice() {
            ["match", template, path] => {
                let parsed = PathTemplate::parse(template).unwrap_or_else(|e| panic!("line {number}: {e}"));
                let got = parsed.match_path(path).map(|values| values.into_iter().collect::<BTreeMap<_, _>>());
                let want = match expected {
                    "none" => None,
                    json => Some(serde_json::from_str::<BTreeMap<String, String>>(json).expect("bindings JSON")),
                };
                assert_eq!(got, want, "line {number}: {template} against {path}");
                matches += 1;
            }
            ["invalid", template] => {
                let error = PathTemplate::parse(template).expect_err(&format!("line {number}: {template} parsed"));
                assert!(error.to_string().contains(expected), "line {number}: {error}");
                invalid += 1;
            }
            _ => panic!("line {number}: unknown case {case:?}"),
        }
    }
    assert!(matches >= 40 && invalid >= 15, "{matches} match cases, {invalid} invalid ones");
}
