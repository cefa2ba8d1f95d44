//! Policies as written: loading TOML, JSON or YAML into the [`Document`] model, with the source
//! kept for error locations.

pub mod model;
pub(crate) mod source;

use std::path::{Path, PathBuf};

pub use model::Document;

use crate::error::{ErrorKind, PolicyError};
use source::Source;

/// The largest policy document accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 16 * 1024 * 1024;

/// A policy text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML, the primary format.
    Toml,
    /// JSON (the `json` feature).
    Json,
    /// YAML (the `yaml` feature).
    Yaml,
}

impl Format {
    /// The format a file name's extension names, if any: `.toml`, `.json`, `.yaml` or `.yml`.
    ///
    /// ```
    /// use portcullis::Format;
    /// assert_eq!(Format::from_path("gate/policy.yml"), Some(Format::Yaml));
    /// assert_eq!(Format::from_path("policy.txt"), None);
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Option<Format> {
        let ext = path.as_ref().extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// A parsed policy, not yet compiled.
///
/// Parsing checks the shape of the document (unknown keys, wrong types); [`Policy::compile`]
/// checks what it says (addresses, globs, names) and builds the [`Engine`](crate::Engine).
///
/// ```
/// use portcullis::Policy;
///
/// let policy = Policy::from_toml(r#"
///     [policy]
///     default = "forbid"
///
///     [[rules]]
///     name = "public"
///     effect = "allow"
///     when = { path = ["/public/**"] }
/// "#)?;
/// let engine = policy.compile()?;
/// assert_eq!(engine.rules().len(), 1);
/// # Ok::<(), portcullis::PolicyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) doc: Document,
    pub(crate) source: Source,
    pub(crate) base_dir: Option<PathBuf>,
    /// The file it was read from, if any.
    pub(crate) path: Option<PathBuf>,
}

impl Policy {
    /// Reads a policy file; the format follows the extension (TOML when there is none).
    /// List files named in it are read relative to its directory when it is compiled.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = read_limited(path, MAX_POLICY_BYTES)
            .map_err(|e| PolicyError::new(ErrorKind::Io, e).in_file(name.clone()))?;
        let format = Format::from_path(path).unwrap_or(Format::Toml);
        let mut policy = Policy::parse(&name, text, format)?;
        policy.base_dir = path.parent().map(Path::to_path_buf);
        policy.path = Some(path.to_path_buf());
        Ok(policy)
    }

    /// Parses a TOML policy from text. Its name in errors is `<policy>`.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse("<policy>", text.to_owned(), Format::Toml)
    }

    /// Parses a policy from text in the given format, named `name` in errors.
    ///
    /// ```
    /// use portcullis::{Format, Policy};
    ///
    /// let err = Policy::parse("inline.toml", "[policy]\ndefault = \"forbid\"\npaths = []\n".into(), Format::Toml)
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with("inline.toml:3:1: unknown field `paths`"));
    /// ```
    pub fn parse(name: &str, text: String, format: Format) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::new(
                ErrorKind::Limit,
                format!("policy is larger than {MAX_POLICY_BYTES} bytes"),
            )
            .in_file(name));
        }
        let source = Source::new(name, text);
        let (doc, source) = match format {
            Format::Toml => parse_toml(source)?,
            Format::Json => parse_json(source)?,
            Format::Yaml => parse_yaml(source)?,
        };
        Ok(Policy {
            doc,
            source,
            base_dir: None,
            path: None,
        })
    }

    /// Sets the directory that list files are read relative to (by default the policy file's
    /// directory, or the current directory for a policy parsed from text).
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> Policy {
        self.base_dir = Some(dir.into());
        self
    }

    /// The parsed document.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// The name the policy's source carries in errors and explanations.
    pub fn name(&self) -> &str {
        &self.source.name
    }

    pub(crate) fn resolve(&self, file: &str) -> PathBuf {
        match &self.base_dir {
            Some(dir) => dir.join(file),
            None => PathBuf::from(file),
        }
    }
}

/// Reads a whole file as UTF-8, refusing files over `limit` bytes before reading them.
pub(crate) fn read_limited(path: &Path, limit: usize) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read file: {e}"))?;
    // Refuse an oversized file before reading any of it; `take` below still bounds a file
    // that grows while it is read.
    if file
        .metadata()
        .is_ok_and(|m| m.len() > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(format!("file is larger than {limit} bytes"));
    }
    let mut text = String::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read file: {e}"))?;
    if text.len() > limit {
        return Err(format!("file is larger than {limit} bytes"));
    }
    Ok(text)
}

fn syntax(message: impl Into<String>) -> PolicyError {
    PolicyError::new(ErrorKind::Syntax, message)
}

#[cfg(feature = "toml")]
fn parse_toml(source: Source) -> Result<(Document, Source), PolicyError> {
    parse_toml_as(source)
}

/// Deserializes TOML text into `T`, placing a syntax error at its line and column. Policies
/// and test files share it.
#[cfg(feature = "toml")]
pub(crate) fn parse_toml_as<T: serde::de::DeserializeOwned>(
    source: Source,
) -> Result<(T, Source), PolicyError> {
    let source = source.with_toml_spans();
    match toml::from_str::<T>(source.text()) {
        Ok(doc) => Ok((doc, source)),
        Err(e) => {
            let err = syntax(first_line(e.message()));
            Err(match e.span() {
                Some(span) => source.error_at_offset(err, span.start),
                None => err.in_file(source.name.clone()),
            })
        }
    }
}

#[cfg(not(feature = "toml"))]
fn parse_toml(source: Source) -> Result<(Document, Source), PolicyError> {
    Err(syntax("TOML support is not compiled in (enable the `toml` feature)").in_file(source.name))
}

#[cfg(feature = "json")]
fn parse_json(source: Source) -> Result<(Document, Source), PolicyError> {
    // serde_json keeps the last of two equal keys in a map: a second `"office"` list would
    // silently replace the first. Refuse duplicates anywhere before reading the document.
    let unique = {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_str(source.text());
        unique_keys::UniqueKeys.deserialize(&mut de)
    };
    match unique.and_then(|()| serde_json::from_str::<Document>(source.text())) {
        Ok(doc) => Ok((doc, source)),
        Err(e) => {
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            Err(source.error_at_line(syntax(message), e.line(), e.column()))
        }
    }
}

/// A pass over a JSON document that refuses a key repeated in one object.
#[cfg(feature = "json")]
mod unique_keys {
    use std::collections::HashSet;
    use std::fmt;

    use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};

    /// Walks any value; every object's keys must be distinct.
    pub(super) struct UniqueKeys;

    impl<'de> DeserializeSeed<'de> for UniqueKeys {
        type Value = ();

        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for UniqueKeys {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E: Error>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E: Error>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E: Error>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E: Error>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E: Error>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E: Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(UniqueKeys)?.is_some() {}
            Ok(())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    // The error is raised here, so serde_json places it at the repeated key.
                    return Err(A::Error::custom(format!(
                        "duplicate key `{key}` (the second one would silently replace the first)"
                    )));
                }
                map.next_value_seed(UniqueKeys)?;
            }
            Ok(())
        }
    }
}

#[cfg(not(feature = "json"))]
fn parse_json(source: Source) -> Result<(Document, Source), PolicyError> {
    Err(syntax("JSON support is not compiled in (enable the `json` feature)").in_file(source.name))
}

#[cfg(feature = "yaml")]
fn parse_yaml(source: Source) -> Result<(Document, Source), PolicyError> {
    // Merge keys (`<<`) let one mapping hold a key twice, one silently winning: a policy has
    // no need of them, so they are refused like any repeated key.
    let options = serde_saphyr::options! {
        merge_keys: serde_saphyr::MergeKeyPolicy::Error,
    };
    match serde_saphyr::from_str_with_options::<Document>(source.text(), options) {
        Ok(doc) => Ok((doc, source)),
        Err(e) => {
            let message = first_line(&e.to_string());
            match e.location() {
                Some(loc) => Err(source.error_at_line(
                    syntax(message),
                    usize::try_from(loc.line()).unwrap_or(usize::MAX),
                    usize::try_from(loc.column()).unwrap_or(usize::MAX),
                )),
                None => Err(syntax(message).in_file(source.name.clone())),
            }
        }
    }
}

#[cfg(not(feature = "yaml"))]
fn parse_yaml(source: Source) -> Result<(Document, Source), PolicyError> {
    Err(syntax("YAML support is not compiled in (enable the `yaml` feature)").in_file(source.name))
}

#[cfg_attr(not(any(feature = "toml", feature = "yaml")), allow(dead_code))]
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_owned()
}
