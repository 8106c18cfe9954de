//! Packing messages into `google.protobuf.Any` and out again, by type URL.

use prost::{DecodeError, EncodeError, Name};

use super::Any;

impl Any {
    /// Packs `message` with its type URL (`type.googleapis.com/<full name>`).
    ///
    /// Returns a `Result` like prost-types' `Any::from_msg`, so code moving from it keeps compiling;
    /// encoding into memory does not fail.
    pub fn from_msg<M: Name>(message: &M) -> Result<Self, EncodeError> {
        Ok(Any { type_url: M::type_url(), value: message.encode_to_vec(), ..Default::default() })
    }

    /// The full name of the packed type: the type URL after its last `/`.
    pub fn type_name(&self) -> &str {
        self.type_url.rsplit('/').next().unwrap_or_default()
    }

    /// Whether the packed message is an `M` (compares full names, whatever the URL's host).
    pub fn is<M: Name>(&self) -> bool {
        self.type_name() == M::full_name()
    }

    /// Unpacks an `M`; an error if the packed message is of another type or does not decode.
    pub fn to_msg<M: Name + Default>(&self) -> Result<M, DecodeError> {
        if !self.is::<M>() {
            return Err(DecodeError::new_unexpected_type_url(self.type_url.clone(), M::type_url()));
        }
        M::decode(self.value.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Duration, Timestamp};
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let timestamp = Timestamp { seconds: 1_700_000_000, nanos: 5, ..Default::default() };
        let any = Any::from_msg(&timestamp).unwrap();
        assert_eq!(any.type_url, "type.googleapis.com/google.protobuf.Timestamp");
        assert!(any.is::<Timestamp>() && !any.is::<Duration>());
        assert_eq!(any.to_msg::<Timestamp>().unwrap(), timestamp);
        let error = any.to_msg::<Duration>().unwrap_err().to_string();
        assert!(error.contains("google.protobuf.Duration"), "{error}");
    }

    #[test]
    fn any_host_in_the_url_is_accepted() {
        let any = Any { type_url: "example.com/x/google.protobuf.Duration".into(), ..Default::default() };
        assert!(any.is::<Duration>());
    }
}
