//! The engine: a validated [`Bundle`] and what is built from it once, the literal gates in
//! front of the automata, the secret scanner and the tool and command table index. Decisions
//! are `impl Engine` in `eval.rs`; the matcher (`matcher.rs`) and the secret scanner
//! (`secrets.rs`) work on the bundle and the parts the engine lends them.

use crate::bundle::meta::Meta;
use crate::bundle::{Bundle, LoadError, Validation};
use crate::matcher::{FieldGate, GaveUp, Matcher};
use crate::model::Field;
use crate::secrets::{SecretScanner, Secrets};
use crate::tables::TableIndex;
use std::path::Path;
use std::sync::OnceLock;

/// A policy ready to judge tool calls.
pub struct Engine {
    pub(crate) bundle: Bundle,
    /// One literal gate per field: built at construction for [`Validation::AtLoad`], on first
    /// use otherwise.
    gates: Vec<OnceLock<Result<FieldGate, String>>>,
    pub(crate) table_index: TableIndex,
    secrets: SecretScanner,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("bundle", &self.bundle)
            .finish()
    }
}

impl Engine {
    /// Builds the engine of a validated bundle.
    pub fn new(bundle: Bundle) -> Result<Engine, LoadError> {
        let meta = &bundle.meta;
        let secrets = SecretScanner::build(&meta.tables.secrets).map_err(LoadError::Meta)?;
        let engine = Engine {
            gates: (0..meta.fields.len()).map(|_| OnceLock::new()).collect(),
            table_index: meta.tables.index(),
            secrets,
            bundle,
        };
        if engine.bundle.validation() == Validation::AtLoad {
            for f in 0..engine.gates.len() {
                engine
                    .matcher()
                    .gate(f)
                    .map_err(|e| LoadError::Meta(e.to_owned()))?;
            }
        }
        Ok(engine)
    }

    /// Reads, validates and builds the bundle at `path` (see [`Bundle::load`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Engine, LoadError> {
        Engine::new(Bundle::load(path)?)
    }

    /// [`Engine::load`] with the automata validated as [`Validation`] says.
    pub fn load_with(path: impl AsRef<Path>, validation: Validation) -> Result<Engine, LoadError> {
        Engine::new(Bundle::load_with(path, validation)?)
    }

    /// The engine of a bundle held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Engine, LoadError> {
        Engine::new(Bundle::from_bytes(bytes)?)
    }

    /// [`Engine::from_bytes`] with the automata validated as [`Validation`] says.
    pub fn from_bytes_with(bytes: &[u8], validation: Validation) -> Result<Engine, LoadError> {
        Engine::new(Bundle::from_bytes_with(bytes, validation)?)
    }

    /// The bundle this engine judges with.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The bundle's decoded metadata.
    pub fn meta(&self) -> &Meta {
        self.bundle.meta()
    }

    /// The bundle's checksum (see [`Bundle::checksum`]).
    pub fn checksum(&self) -> u64 {
        self.bundle.checksum()
    }

    /// The bundle's size in bytes.
    pub fn len(&self) -> usize {
        self.bundle.len()
    }

    /// Whether the bundle holds no rules.
    pub fn is_empty(&self) -> bool {
        self.bundle.is_empty()
    }

    pub(crate) fn matcher(&self) -> Matcher<'_> {
        Matcher {
            bundle: &self.bundle,
            gates: &self.gates,
        }
    }

    pub(crate) fn secret_scan(&self) -> Secrets<'_> {
        Secrets {
            bundle: &self.bundle,
            scanner: &self.secrets,
        }
    }

    /// `text` with every secret the policy knows replaced by `[REDACTED:<format id>]`.
    pub fn redact(&self, text: &str) -> String {
        self.secret_scan().redact(text)
    }

    /// The ids of the secret formats found in `text` (for tools and benchmarks; decisions scan
    /// operations themselves).
    pub fn secrets_in(&self, text: &str) -> Result<Vec<&str>, GaveUp> {
        self.secret_scan().secrets_in(text)
    }

    /// Ids of the field's patterns that one value matches (for benchmarks and tools: decisions
    /// go through [`Engine::evaluate`]). `home` is the normalized home directory.
    pub fn field_matches(
        &self,
        field: Field,
        value: &str,
        home: &str,
        out: &mut Vec<u32>,
    ) -> Result<(), GaveUp> {
        self.matcher().field_matches(field, value, home, out)
    }
}
