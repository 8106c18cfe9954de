//! Writing JSON straight from messages into a string: the proto3 JSON forms of every scalar, with the
//! per-call options at hand and no intermediate tree.

use std::fmt::Write as _;

use base64::Engine as _;

use super::JsonOptions;

/// Writes one JSON document; generated `write_json` methods call it field by field.
pub struct JsonWriter<'a> {
    out: &'a mut String,
    options: &'a JsonOptions,
    /// Whether the next value or key needs a comma before it.
    comma: bool,
    error: Option<String>,
    /// Open objects and arrays, counted across the writers of nested `Any`s: an `Any` decodes its payload
    /// afresh, so prost's recursion limit does not bound how deep a chain of them goes.
    depth: u32,
}

/// The deepest nesting written; deeper input (only reachable through `Any`s inside `Any`s) is an error
/// rather than a stack overflow. Matches serde_json's limit when reading.
pub(crate) const MAX_DEPTH: u32 = 128;

impl<'a> JsonWriter<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut String, options: &'a JsonOptions) -> Self {
        JsonWriter { out, options, comma: false, error: None, depth: 0 }
    }

    /// The options of this call.
    pub fn options(&self) -> &JsonOptions {
        self.options
    }

    /// Whether fields without presence are written even when they hold their default value.
    pub fn emit_defaults(&self) -> bool {
        self.options.emit_defaults
    }

    /// A writer for a value one level inside this one's current position, into its own buffer.
    pub(crate) fn nested<'b>(&self, out: &'b mut String, options: &'b JsonOptions) -> JsonWriter<'b> {
        JsonWriter { out, options, comma: false, error: None, depth: self.depth + 1 }
    }

    /// How many objects and arrays are open, including those of enclosing `Any`s.
    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }

    /// Records that the message cannot be written (a Timestamp out of range, a NaN in a Value, ...); the
    /// first error is what `to_json` returns.
    pub fn fail(&mut self, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(message.into());
        }
    }

    pub(crate) fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }

    fn separate(&mut self) {
        if self.comma {
            self.out.push(',');
        }
        self.comma = true;
    }

    /// `{`.
    pub fn begin_object(&mut self) {
        self.separate();
        self.out.push('{');
        self.comma = false;
        self.depth += 1;
    }

    /// `}`.
    pub fn end_object(&mut self) {
        self.out.push('}');
        self.comma = true;
        self.depth = self.depth.saturating_sub(1);
    }

    /// `[`.
    pub fn begin_array(&mut self) {
        self.separate();
        self.out.push('[');
        self.comma = false;
        self.depth += 1;
    }

    /// `]`.
    pub fn end_array(&mut self) {
        self.out.push(']');
        self.comma = true;
        self.depth = self.depth.saturating_sub(1);
    }

    /// A field's key: its JSON name, or its proto name when the options ask for those.
    pub fn key(&mut self, json_name: &str, proto_name: &str) {
        let name = if self.options.proto_names { proto_name } else { json_name };
        self.raw_key(name);
    }

    /// A key as given (map keys, `@type`).
    pub fn raw_key(&mut self, name: &str) {
        self.separate();
        write_string(self.out, name);
        self.out.push(':');
        self.comma = false;
    }

    /// `null`.
    pub fn null(&mut self) {
        self.separate();
        self.out.push_str("null");
    }

    /// `true` / `false`.
    pub fn bool(&mut self, value: bool) {
        self.separate();
        self.out.push_str(if value { "true" } else { "false" });
    }

    /// A 32-bit integer, as a JSON number.
    pub fn int32(&mut self, value: i32) {
        self.separate();
        self.out.push_str(itoa::Buffer::new().format(value));
    }

    /// An unsigned 32-bit integer, as a JSON number.
    pub fn uint32(&mut self, value: u32) {
        self.separate();
        self.out.push_str(itoa::Buffer::new().format(value));
    }

    /// A 64-bit integer, as a JSON string (JavaScript numbers cannot hold them).
    pub fn int64(&mut self, value: i64) {
        self.separate();
        self.out.push('"');
        self.out.push_str(itoa::Buffer::new().format(value));
        self.out.push('"');
    }

    /// An unsigned 64-bit integer, as a JSON string.
    pub fn uint64(&mut self, value: u64) {
        self.separate();
        self.out.push('"');
        self.out.push_str(itoa::Buffer::new().format(value));
        self.out.push('"');
    }

    /// A double: the shortest text that reads back as the same value, or "NaN" / "Infinity" / "-Infinity".
    pub fn double(&mut self, value: f64) {
        self.separate();
        if value.is_finite() {
            let mut buffer = ryu::Buffer::new();
            self.out.push_str(trim_point_zero(buffer.format_finite(value)));
        } else {
            self.out.push_str(non_finite(value));
        }
    }

    /// A float, printed as the shortest text that reads back as the same `f32`.
    pub fn float(&mut self, value: f32) {
        self.separate();
        if value.is_finite() {
            let mut buffer = ryu::Buffer::new();
            self.out.push_str(trim_point_zero(buffer.format_finite(value)));
        } else {
            self.out.push_str(non_finite(f64::from(value)));
        }
    }

    /// A string.
    pub fn string(&mut self, value: &str) {
        self.separate();
        write_string(self.out, value);
    }

    /// Bytes, as standard base64 with padding.
    pub fn bytes(&mut self, value: &[u8]) {
        self.separate();
        self.out.push('"');
        base64::engine::general_purpose::STANDARD.encode_string(value, self.out);
        self.out.push('"');
    }

    /// An enum value: its name, or its number when this code does not know it or the options ask for
    /// numbers.
    pub fn enumeration(&mut self, number: i32, name: Option<&str>) {
        match name {
            Some(name) if !self.options.use_enum_numbers => self.string(name),
            _ => self.int32(number),
        }
    }

    /// Text that is already JSON (a nested document written elsewhere).
    pub fn raw(&mut self, json: &str) {
        self.separate();
        self.out.push_str(json);
    }
}

/// `3.0` -> `3`, but negative zero stays `-0.0`: `-0` reads as the integer 0, without its sign, in readers
/// that tell integers from floats (Python's `json` among them).
fn trim_point_zero(text: &str) -> &str {
    if text == "-0.0" {
        return text;
    }
    text.strip_suffix(".0").unwrap_or(text)
}

fn non_finite(value: f64) -> &'static str {
    if value.is_nan() {
        "\"NaN\""
    } else if value > 0.0 {
        "\"Infinity\""
    } else {
        "\"-Infinity\""
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
pub(crate) fn write_string(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        let options = JsonOptions::default();
        let mut out = String::new();
        let mut w = JsonWriter::new(&mut out, &options);
        w.begin_array();
        w.int32(-5);
        w.int64(i64::MIN);
        w.uint64(u64::MAX);
        w.double(1.5e300);
        w.double(3.0);
        w.float(0.1);
        w.double(f64::NAN);
        w.float(f32::NEG_INFINITY);
        w.string("a\"b\\c\n\u{1}é");
        w.bytes(b"\xff\x00");
        w.enumeration(1, Some("ONE"));
        w.enumeration(7, None);
        w.end_array();
        assert_eq!(
            out,
            r#"[-5,"-9223372036854775808","18446744073709551615",1.5e300,3,0.1,"NaN","-Infinity","a\"b\\c\n\u0001é","/wA=","ONE",7]"#
        );
    }

    #[test]
    fn enums_as_numbers_when_asked() {
        let options = JsonOptions { use_enum_numbers: true, ..Default::default() };
        let mut out = String::new();
        let mut w = JsonWriter::new(&mut out, &options);
        w.begin_array();
        w.enumeration(1, Some("ONE"));
        w.enumeration(7, None);
        w.end_array();
        assert_eq!(out, "[1,7]");
    }
}
