//! Verifying a mock: the report of everything that went wrong, and the check when a mock is dropped.

use std::fmt;

use super::method::Method;

/// A method of a mock, as verification sees it.
pub trait Checked {
    /// What went wrong so far; the method then starts afresh.
    fn take_problems(&self) -> Vec<String>;
}

impl<In: Send + 'static, Out: Send + 'static> Checked for Method<In, Out> {
    fn take_problems(&self) -> Vec<String> {
        Method::take_problems(self)
    }
}

/// What a mock's verification found: every expectation not met and every call none matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockError {
    mock: &'static str,
    problems: Vec<String>,
}

impl MockError {
    /// Each problem, one line each, naming the method.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(f, "{}: {count} problem{}", self.mock, if count == 1 { "" } else { "s" })?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MockError {}

/// Verifies the methods of the mock `mock` (its type's name), then clears their expectations: each must
/// have had the calls it wants, and no call may have matched none.
pub fn verify(mock: &'static str, methods: &[&dyn Checked]) -> Result<(), MockError> {
    let problems: Vec<String> = methods.iter().flat_map(|method| method.take_problems()).collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(MockError { mock, problems })
    }
}

/// What a mock does when dropped: verifies, and panics with the report if anything went wrong (unless the
/// thread is panicking already, which a second panic would turn into an abort).
pub fn verify_on_drop(mock: &'static str, methods: &[&dyn Checked]) {
    if std::thread::panicking() {
        return;
    }
    if let Err(error) = verify(mock, methods) {
        panic!("{error}");
    }
}
