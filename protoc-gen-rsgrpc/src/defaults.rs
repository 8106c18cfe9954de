//! Explicit proto2 defaults (`[default = ...]`): parsed from the descriptor's text form into values the
//! emitters can write as Rust expressions.

use proc_macro2::{Literal, TokenStream};
use prost_types::field_descriptor_proto::Type;
use prost_types::FieldDescriptorProto;
use quote::quote;

use crate::ident::enum_variants;
use crate::index::DescriptorIndex;
use crate::model::{Scalar, ValueType};

/// A field's explicit default.
#[derive(Debug, Clone)]
pub enum DefaultValue {
    /// A number or bool, as a Rust expression of the field's type.
    Copy(TokenStream),
    /// A string.
    Str(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An enum value: the Rust variant name.
    Enum(String),
}

/// The explicit default of `field`, or an error describing why its text cannot be used.
pub fn lower(
    field: &FieldDescriptorProto,
    value: &ValueType,
    index: &DescriptorIndex<'_>,
) -> Result<Option<DefaultValue>, String> {
    let Some(text) = field.default_value.as_deref() else { return Ok(None) };
    let bad = || format!("invalid default value `{text}` for a {:?} field", field.r#type());
    let lowered = match value {
        ValueType::Scalar(scalar) => match scalar {
            Scalar::Double => DefaultValue::Copy(float(text, "f64").ok_or_else(bad)?),
            Scalar::Float => DefaultValue::Copy(float(text, "f32").ok_or_else(bad)?),
            Scalar::Bool => match text {
                "true" => DefaultValue::Copy(quote!(true)),
                "false" => DefaultValue::Copy(quote!(false)),
                _ => return Err(bad()),
            },
            Scalar::String => DefaultValue::Str(text.to_owned()),
            Scalar::Bytes { .. } => DefaultValue::Bytes(unescape_c(text).ok_or_else(bad)?),
            Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => {
                DefaultValue::Copy(integer(text, i32::MIN.into(), i32::MAX.into(), "i32").ok_or_else(bad)?)
            }
            Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64 => {
                DefaultValue::Copy(integer(text, i64::MIN.into(), i64::MAX.into(), "i64").ok_or_else(bad)?)
            }
            Scalar::Uint32 | Scalar::Fixed32 => {
                DefaultValue::Copy(integer(text, 0, u32::MAX.into(), "u32").ok_or_else(bad)?)
            }
            Scalar::Uint64 | Scalar::Fixed64 => {
                DefaultValue::Copy(integer(text, 0, u64::MAX.into(), "u64").ok_or_else(bad)?)
            }
        },
        ValueType::Enum(_) => {
            let enumeration = index.enumeration(field.type_name()).ok_or_else(bad)?;
            let names: Vec<&str> = enumeration.value.iter().map(|v| v.name()).collect();
            let position = names.iter().position(|n| *n == text).ok_or_else(bad)?;
            DefaultValue::Enum(enum_variants(enumeration.name(), &names).swap_remove(position))
        }
        ValueType::Message { .. } => return Err(format!("{:?} fields cannot have a default", Type::Message)),
    };
    Ok(Some(lowered))
}

fn integer(text: &str, min: i128, max: i128, ty: &str) -> Option<TokenStream> {
    // `from_str_radix` takes a sign of its own, so `-0x-8...` would negate i128::MIN: digits only after `0x`.
    let hex = |digits: &str| {
        let digits_only = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit());
        digits_only.then(|| i128::from_str_radix(digits, 16).ok()).flatten()
    };
    let value: i128 = if let Some(digits) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        hex(digits)?
    } else if let Some(digits) = text.strip_prefix("-0x").or_else(|| text.strip_prefix("-0X")) {
        hex(digits)?.checked_neg()?
    } else {
        text.parse().ok()?
    };
    if value < min || value > max {
        return None;
    }
    let ty = crate::ident::ident(ty);
    Some(if value == min && value != 0 {
        quote!(#ty::MIN)
    } else if value < 0 {
        let magnitude = Literal::u128_unsuffixed(value.unsigned_abs());
        quote!(-#magnitude)
    } else {
        let literal = Literal::u128_unsuffixed(value as u128);
        quote!(#literal)
    })
}

fn float(text: &str, ty: &str) -> Option<TokenStream> {
    let ty_ident = crate::ident::ident(ty);
    let tokens = match text {
        "inf" => quote!(#ty_ident::INFINITY),
        "-inf" => quote!(#ty_ident::NEG_INFINITY),
        "nan" | "-nan" => quote!(#ty_ident::NAN),
        _ => {
            let value: f64 = text.parse().ok()?;
            // Debug prints the shortest text that reads back as the same value, with a `.` or exponent.
            let text = if ty == "f32" { format!("{:?}", value.abs() as f32) } else { format!("{:?}", value.abs()) };
            let magnitude: Literal = text.parse().ok()?;
            if value.is_sign_negative() {
                quote!(-#magnitude)
            } else {
                quote!(#magnitude)
            }
        }
    };
    Some(tokens)
}

/// Undoes protoc's C escaping of `bytes` defaults (`\n`, `\\`, `\"`, octal `\ooo`, hex `\xhh`).
fn unescape_c(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let escape = *bytes.get(i + 1)?;
        i += 2;
        let simple = match escape {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'v' => Some(0x0b),
            b'\\' | b'\'' | b'"' | b'?' => Some(escape),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
        } else if escape.is_ascii_digit() && escape < b'8' {
            let mut value = u32::from(escape - b'0');
            for _ in 0..2 {
                match bytes.get(i) {
                    Some(&d @ b'0'..=b'7') => {
                        value = value * 8 + u32::from(d - b'0');
                        i += 1;
                    }
                    _ => break,
                }
            }
            out.push(u8::try_from(value).ok()?);
        } else if escape == b'x' {
            let start = i;
            while i < bytes.len() && i - start < 2 && bytes[i].is_ascii_hexdigit() {
                i += 1;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(&bytes[start..i]).ok()?, 16).ok()?);
        } else {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_escapes() {
        assert_eq!(unescape_c(r"\000\001\377bin").unwrap(), b"\x00\x01\xffbin");
        assert_eq!(unescape_c(r#"a\nb\\c\"d\x41"#).unwrap(), b"a\nb\\c\"dA");
        assert!(unescape_c(r"\q").is_none());
        assert!(unescape_c("\\").is_none());
    }

    #[test]
    fn numbers() {
        assert_eq!(integer("-42", i64::MIN.into(), i64::MAX.into(), "i64").unwrap().to_string(), "- 42");
        assert_eq!(
            integer("-9223372036854775808", i64::MIN.into(), i64::MAX.into(), "i64").unwrap().to_string(),
            "i64 :: MIN"
        );
        assert_eq!(
            integer("18446744073709551615", 0, u64::MAX.into(), "u64").unwrap().to_string(),
            "18446744073709551615"
        );
        assert!(integer("4294967296", 0, u32::MAX.into(), "u32").is_none());
        // A second sign after the prefix is not protoc's form (and `-0x-8...` once overflowed).
        for text in ["-0x-80000000000000000000000000000000", "0x-1", "0x+5", "-0x", "0x"] {
            assert!(integer(text, i64::MIN.into(), i64::MAX.into(), "i64").is_none(), "{text}");
        }
        assert_eq!(integer("-0x10", i64::MIN.into(), i64::MAX.into(), "i64").unwrap().to_string(), "- 16");
        assert_eq!(float("-1.5e300", "f64").unwrap().to_string(), "- 1.5e300");
        assert_eq!(float("inf", "f32").unwrap().to_string(), "f32 :: INFINITY");
    }
}
