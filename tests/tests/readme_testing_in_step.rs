//! The README's "Testing" example and `readme_testing.rs`, which runs it, say the same: from the first `use`
//! on, line for line (the README's `#[cfg(test)]` aside: in a test target the module is always compiled).
//! The two differ only in where the generated code comes from, above that line.

use std::path::Path;

const FIRST_SHARED_LINE: &str = "use pb::greeter_client::GreeterApi;";

fn from_first_shared_line(text: &str, what: &str) -> Vec<String> {
    let start = text.find(FIRST_SHARED_LINE).unwrap_or_else(|| panic!("{what} has no `{FIRST_SHARED_LINE}`"));
    text[start..].lines().filter(|line| line.trim() != "#[cfg(test)]").map(|line| line.trim_end().to_owned()).collect()
}

#[test]
fn the_readme_testing_example_is_the_code_that_runs() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace");
    let readme = std::fs::read_to_string(workspace.join("README.md")).expect("README.md");
    let section_start = readme.find("\n## Testing\n").expect("a Testing section");
    let section = &readme[section_start..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |end| end + 1)];
    let code_start = section.find("```rust\n").expect("a rust block in Testing") + "```rust\n".len();
    let code = &section[code_start..];
    let code = &code[..code.find("```").expect("the block's end")];
    let runs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readme_testing.rs"))
        .expect("readme_testing.rs");
    let readme_lines = from_first_shared_line(code, "the README block");
    let test_lines = from_first_shared_line(&runs, "readme_testing.rs");
    for (index, (readme_line, test_line)) in readme_lines.iter().zip(&test_lines).enumerate() {
        assert_eq!(readme_line, test_line, "line {} after `{FIRST_SHARED_LINE}` differs", index + 1);
    }
    assert_eq!(readme_lines.len(), test_lines.len(), "one of the two has more lines");
}
