//! Path templates of `google.api.http` rules, the whole grammar of `google/api/http.proto`:
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! and matching request paths against them with the spec's decoding rules: a variable of one segment is
//! fully percent-decoded; one of several segments is decoded except `%2F`, which stays encoded so the
//! value's own slashes can be told from the path's.

use std::fmt;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    source: String,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    verb: Option<String>,
}

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Matches exactly this (percent-decoded) text.
    Literal(String),
    /// `*`: any one segment.
    Single,
    /// `**`: any number of segments, zero included; only at the end.
    Rest,
}

/// A variable: the field it binds and the segments it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    field_path: Vec<String>,
    start: usize,
    end: usize,
}

impl Variable {
    /// The field path, `book.name` as `["book", "name"]`.
    pub fn field_path(&self) -> &[String] {
        &self.field_path
    }

    /// The field path as written, `book.name`.
    pub fn name(&self) -> String {
        self.field_path.join(".")
    }
}

/// A template that does not parse: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The template.
    pub template: String,
    /// The byte offset of the problem.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid path template {:?} at offset {}: {}", self.template, self.position, self.message)
    }
}

impl std::error::Error for TemplateError {}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
}

impl Parser<'_> {
    fn error<T>(&self, message: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError { template: self.text.to_owned(), position: self.at, message: message.into() })
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Segments up to the end, a verb, or the `}` closing a variable.
    fn segments(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        loop {
            self.segment(in_variable)?;
            if !self.eat(b'/') {
                return Ok(());
            }
        }
    }

    fn segment(&mut self, in_variable: bool) -> Result<(), TemplateError> {
        match self.peek() {
            Some(b'*') => {
                self.at += 1;
                if self.eat(b'*') {
                    self.segments.push(Segment::Rest);
                } else {
                    self.segments.push(Segment::Single);
                }
                match self.peek() {
                    None | Some(b'/' | b':' | b'}') => Ok(()),
                    Some(_) => self.error("a wildcard must be a whole segment"),
                }
            }
            Some(b'{') if in_variable => self.error("variables cannot be nested"),
            Some(b'{') => self.variable(),
            Some(b'/') | None => self.error("empty segment"),
            Some(b'}') if in_variable => self.error("empty segment"),
            Some(_) => {
                let literal = self.literal()?;
                self.segments.push(Segment::Literal(literal));
                Ok(())
            }
        }
    }

    /// A literal: up to `/`, `}` or a verb's `:` (a `:` followed by no more `/`).
    fn literal(&mut self) -> Result<String, TemplateError> {
        let start = self.at;
        while let Some(byte) = self.peek() {
            match byte {
                b'/' | b'}' => break,
                b':' if !self.text[self.at..].contains('/') => break,
                b'{' | b'*' | b'=' | b'?' | b'#' | b' ' => {
                    return self.error(format!("{:?} is not allowed in a literal", byte as char));
                }
                _ => self.at += 1,
            }
        }
        if self.at == start {
            return self.error("empty literal");
        }
        let raw = &self.text[start..self.at];
        match decode(raw, false) {
            Some(literal) => Ok(literal),
            None => self.error(format!("{raw:?} has a malformed percent-escape")),
        }
    }

    fn variable(&mut self) -> Result<(), TemplateError> {
        let open = self.at;
        self.at += 1;
        let mut field_path = Vec::new();
        loop {
            let start = self.at;
            while let Some(byte) = self.peek() {
                if byte.is_ascii_alphanumeric() || byte == b'_' {
                    self.at += 1;
                } else {
                    break;
                }
            }
            let ident = &self.text[start..self.at];
            if ident.is_empty() || ident.as_bytes()[0].is_ascii_digit() {
                return self.error("expected a field name");
            }
            field_path.push(ident.to_owned());
            if !self.eat(b'.') {
                break;
            }
        }
        let name = field_path.join(".");
        if self.variables.iter().any(|v| v.name() == name) {
            self.at = open;
            return self.error(format!("field {name:?} is bound twice"));
        }
        let start = self.segments.len();
        if self.eat(b'=') {
            self.segments(true)?;
        } else {
            self.segments.push(Segment::Single);
        }
        if !self.eat(b'}') {
            return match self.peek() {
                None => self.error("unclosed variable"),
                Some(byte) => self.error(format!("unexpected {:?} in a variable", byte as char)),
            };
        }
        self.variables.push(Variable { field_path, start, end: self.segments.len() });
        match self.peek() {
            None | Some(b'/' | b':') => Ok(()),
            Some(_) => self.error("a variable must be a whole segment"),
        }
    }
}

impl PathTemplate {
    /// Parses a template.
    pub fn parse(text: &str) -> Result<PathTemplate, TemplateError> {
        let mut parser = Parser { text, at: 0, segments: Vec::new(), variables: Vec::new() };
        if !parser.eat(b'/') {
            return parser.error("a template starts with '/'");
        }
        if parser.peek().is_some() && parser.peek() != Some(b':') {
            parser.segments(false)?;
        }
        let mut verb = None;
        if parser.eat(b':') {
            let start = parser.at;
            let rest = &text[start..];
            if rest.is_empty() {
                return parser.error("empty verb");
            }
            if let Some(bad) = rest.chars().find(|c| matches!(c, '/' | '{' | '}' | '*' | ':' | '=' | '?' | '#' | ' ')) {
                return parser.error(format!("{bad:?} is not allowed in a verb"));
            }
            verb = Some(rest.to_owned());
            parser.at = text.len();
        }
        if parser.peek().is_some() {
            return parser.error(format!("unexpected {:?}", text[parser.at..].chars().next().unwrap_or(' ')));
        }
        if let Some(index) = parser.segments.iter().position(|s| *s == Segment::Rest) {
            if index + 1 != parser.segments.len() {
                return Err(TemplateError {
                    template: text.to_owned(),
                    position: 0,
                    message: "'**' must be the last segment".into(),
                });
            }
        }
        Ok(PathTemplate { source: text.to_owned(), segments: parser.segments, variables: parser.variables, verb })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variables, in order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The custom verb (`cancel` in `/v1/{name}:cancel`).
    pub fn verb(&self) -> Option<&str> {
        self.verb.as_deref()
    }

    /// How specific the template is, for choosing among routes that match one path: a custom verb first
    /// (a path ending in `:verb` is meant for it, not for a variable taking `name:verb` whole, as in
    /// grpc-gateway), then more literal segments.
    pub fn specificity(&self) -> (bool, usize) {
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        (self.verb.is_some(), literals)
    }

    /// Whether `other` matches exactly the same paths (two rules on one verb must not).
    pub fn same_shape(&self, other: &PathTemplate) -> bool {
        self.segments == other.segments && self.verb == other.verb
    }

    /// Matches a request path (still percent-encoded, without the query): the variables' values in order,
    /// or `None` when the path does not match.
    pub fn match_path(&self, path: &str) -> Option<Vec<(String, String)>> {
        let path = path.strip_prefix('/')?;
        let path = match &self.verb {
            Some(verb) => {
                let stripped = path.strip_suffix(verb.as_str())?.strip_suffix(':')?;
                // The verb belongs to the last segment: `/a/b:verb`, not `/a/b/:verb`.
                if stripped.ends_with('/') {
                    return None;
                }
                stripped
            }
            None => path,
        };
        let raw: Vec<&str> = if path.is_empty() { Vec::new() } else { path.split('/').collect() };
        // Where each template segment's match starts in `raw`; a `**` takes what is left.
        let mut spans = Vec::with_capacity(self.segments.len());
        let mut index = 0;
        for segment in &self.segments {
            match segment {
                Segment::Rest => {
                    spans.push((index, raw.len()));
                    index = raw.len();
                }
                Segment::Single => {
                    let part = raw.get(index)?;
                    if part.is_empty() {
                        return None;
                    }
                    spans.push((index, index + 1));
                    index += 1;
                }
                Segment::Literal(literal) => {
                    if decode(raw.get(index)?, false)? != *literal {
                        return None;
                    }
                    spans.push((index, index + 1));
                    index += 1;
                }
            }
        }
        if index != raw.len() {
            return None;
        }
        let mut values = Vec::with_capacity(self.variables.len());
        for variable in &self.variables {
            let (from, to) = if variable.start == variable.end {
                (index, index)
            } else {
                (spans[variable.start].0, spans[variable.end - 1].1)
            };
            let parts = &raw[from..to];
            let multi = variable.end - variable.start > 1
                || self.segments[variable.start..variable.end].contains(&Segment::Rest);
            let value = if multi {
                let decoded: Option<Vec<String>> = parts.iter().map(|part| decode(part, true)).collect();
                decoded?.join("/")
            } else {
                decode(parts.first()?, false)?
            };
            values.push((variable.name(), value));
        }
        Some(values)
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Percent-decodes `text`; with `keep_slash`, `%2F` stays as it is. `None` for a malformed escape or a
/// result that is not UTF-8.
fn decode(text: &str, keep_slash: bool) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let byte = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if keep_slash && byte == b'/' {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(byte);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(feature = "gateway")]
/// Whether every `%` in `text` starts a well-formed escape whose decoding is UTF-8 (a request path with a
/// malformed one is a bad request, not an unknown path).
pub(crate) fn is_well_encoded(text: &str) -> bool {
    decode(text, false).is_some()
}
