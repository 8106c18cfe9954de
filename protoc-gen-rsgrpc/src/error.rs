//! The one error type of the generator: what went wrong, on which element, and how to fix it.

use std::fmt;

/// A problem with the input (a proto construct, a parameter, a file) that stops generation.
///
/// protoc prints the `Display` form to the user, so it names the file and element and, where we know one,
/// suggests a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodegenError {
    /// Where the problem is: a file, a file and an element, or a parameter.
    pub element: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    pub hint: Option<String>,
}

impl CodegenError {
    /// An error about `element` (e.g. `"foo.proto: message pkg.Foo"`).
    pub fn at(element: impl Into<String>, message: impl Into<String>) -> Self {
        CodegenError { element: Some(element.into()), message: message.into(), hint: None }
    }

    /// An error not tied to an element.
    pub fn new(message: impl Into<String>) -> Self {
        CodegenError { element: None, message: message.into(), hint: None }
    }

    /// Adds a suggestion for fixing the problem.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(element) = &self.element {
            write!(f, "{element}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CodegenError {}
