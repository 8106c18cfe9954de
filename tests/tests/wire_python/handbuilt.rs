//! Rust mirrors of the hand-built cases of tests/py/wire_corpus.py (described in tests/py/HANDBUILT.md):
//! the same messages, written independently as struct literals of the generated `wire_gen` types.

use std::fmt::Debug;

use rsgrpc::{Message, Name};

/// One hand-built message, type-erased so cases of every type fit in one list.
pub struct Case {
    /// The case id shared with the Python side.
    pub id: &'static str,
    /// The message's full proto name.
    pub type_name: String,
    /// Our encoding of the message.
    pub encoded: Vec<u8>,
    /// Decodes bytes as this case's type and compares with the message; describes any difference.
    pub check: Box<dyn Fn(&[u8]) -> Result<(), String>>,
}

fn case<M>(id: &'static str, message: M) -> Case
where
    M: Message + Name + Default + PartialEq + Debug + 'static,
{
    let encoded = message.encode_to_vec();
    Case {
        id,
        type_name: M::full_name(),
        encoded,
        check: Box::new(move |bytes| {
            let decoded = M::decode(bytes).map_err(|e| format!("does not decode: {e}"))?;
            if decoded == message {
                Ok(())
            } else {
                Err(format!("decoded {decoded:#?}\nexpected {message:#?}"))
            }
        }),
    }
}

/// Every hand-built case.
pub fn cases() -> Vec<Case> {
    vec![
        // Filled in from tests/py/HANDBUILT.md.
    ]
}
