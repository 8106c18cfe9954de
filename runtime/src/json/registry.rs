//! The types an `Any` can hold in JSON: `Any` carries only a type URL and bytes, so writing it as JSON, or
//! reading it back, needs the message type behind the URL.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use prost::{Message, Name};

use super::{JsonMessage, JsonWriter, ReadContext};

/// Writes the message encoded in `bytes` as JSON.
type WriteFn = fn(&[u8], &mut JsonWriter<'_>) -> Result<(), String>;
/// Reads the message from JSON and encodes it.
type ReadFn = fn(serde_json::Value, &ReadContext<'_>) -> Result<Vec<u8>, String>;

/// One registered type.
#[derive(Clone, Copy)]
pub(crate) struct AnyType {
    pub(crate) write: WriteFn,
    pub(crate) read: ReadFn,
    /// Whether the type's JSON form is not an object (the well-known types with special forms): inside an
    /// `Any` it goes in a `"value"` member.
    pub(crate) special: bool,
}

/// Writes an extension's value from its encoded fields.
type ExtensionWriteFn = fn(&[u8], &mut JsonWriter<'_>);
/// Reads an extension's value from JSON and encodes it as field `number`.
type ExtensionReadFn = fn(u32, serde_json::Value, &ReadContext<'_>) -> Result<Vec<u8>, String>;

/// One registered extension (see `rsgrpc::extension::register`), type-erased.
#[derive(Clone, Copy)]
pub struct ExtensionEntry {
    /// The field number.
    pub number: u32,
    /// The full proto name, the JSON key between brackets.
    pub full_name: &'static str,
    /// Writes the value.
    pub write: ExtensionWriteFn,
    /// Reads the value.
    pub read: ExtensionReadFn,
}

/// Message types by full name, for `Any`, and extensions by extendee, for `"[pkg.ext]"` keys.
#[derive(Clone, Default)]
pub struct TypeRegistry {
    types: HashMap<String, AnyType>,
    /// Per extendee's full name, sorted by field number.
    extensions: HashMap<&'static str, Vec<ExtensionEntry>>,
}

impl std::fmt::Debug for TypeRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.types.keys().collect();
        names.sort();
        f.debug_struct("TypeRegistry").field("types", &names).finish()
    }
}

fn write_as<M: JsonMessage + Message + Default>(bytes: &[u8], writer: &mut JsonWriter<'_>) -> Result<(), String> {
    let message = M::decode(bytes).map_err(|e| format!("the Any's value does not decode: {e}"))?;
    message.write_json(writer);
    Ok(())
}

fn read_as<M: JsonMessage + Message>(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Vec<u8>, String> {
    M::read_json(value, ctx).map(|message| message.encode_to_vec()).map_err(|e| e.to_string())
}

impl TypeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        TypeRegistry::default()
    }

    /// Adds a message type.
    pub fn register<M: JsonMessage + Message + Name + Default>(&mut self) {
        self.insert::<M>(false);
    }

    /// Adds a message type; `special` for the well-known types whose JSON form is not an object.
    pub(crate) fn insert<M: JsonMessage + Message + Name + Default>(&mut self, special: bool) {
        self.types.insert(M::full_name(), AnyType { write: write_as::<M>, read: read_as::<M>, special });
    }

    /// Adds an extension of the message named `extendee` (replacing one of the same number).
    pub fn insert_extension(&mut self, extendee: &'static str, entry: ExtensionEntry) {
        let list = self.extensions.entry(extendee).or_default();
        list.retain(|known| known.number != entry.number);
        list.push(entry);
        list.sort_by_key(|known| known.number);
    }

    /// The extensions of the message named `extendee`, by field number.
    pub(crate) fn extensions_of(&self, extendee: &str) -> &[ExtensionEntry] {
        self.extensions.get(extendee).map_or(&[], Vec::as_slice)
    }

    /// The extension of `extendee` with this full name.
    pub(crate) fn extension(&self, extendee: &str, full_name: &str) -> Option<ExtensionEntry> {
        self.extensions_of(extendee).iter().find(|entry| entry.full_name == full_name).copied()
    }

    /// The type named by a type URL (`type.googleapis.com/pkg.Message`: the part after the last `/`).
    pub(crate) fn get(&self, type_url: &str) -> Option<AnyType> {
        let name = type_url.rsplit('/').next()?;
        self.types.get(name).copied()
    }
}

fn global() -> &'static RwLock<Arc<TypeRegistry>> {
    static GLOBAL: OnceLock<RwLock<Arc<TypeRegistry>>> = OnceLock::new();
    // The well-known types need no entry: an `Any` finds them whatever the registry.
    GLOBAL.get_or_init(|| RwLock::new(Arc::new(TypeRegistry::new())))
}

/// The process-wide registry (the well-known types and whatever was [`register`]ed), used when the options
/// name no other.
pub fn global_registry() -> Arc<TypeRegistry> {
    global().read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Adds a type to the process-wide registry (generated packages offer `register_json_types`).
pub fn register<M: JsonMessage + Message + Name + Default>() {
    let mut registry = global().write().unwrap_or_else(|e| e.into_inner());
    Arc::make_mut(&mut registry).register::<M>();
}

/// Changes the process-wide registry, e.g. `update_global_registry(gen::my::pkg::register_json_types)`.
pub fn update_global_registry(update: impl FnOnce(&mut TypeRegistry)) {
    let mut registry = global().write().unwrap_or_else(|e| e.into_inner());
    update(Arc::make_mut(&mut registry));
}
