//! Vendor presets as data: how a tool's default export maps onto the
//! snapshot files. Each preset is a TOML file in `presets/` with one table
//! per snapshot file it feeds (`[deals]`, `[tickets]`, …); the table's
//! `import` part holds exactly the keys a hand-written `[import.<file>]`
//! takes (columns, formats, stage booleans, value maps, filters, constants,
//! durations), so every preset is something a user could have written, and
//! a user's own keys override the preset's one by one. `signature` lists
//! header names that identify the export (to say which preset to add);
//! `feeds` names other snapshot files the same export also fills (Zendesk
//! tickets → CSAT surveys); `hint` is added to a missing-column message.
//!
//! What each preset's layout rests on (verified or not) is written at the
//! top of its TOML file.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::RawImport;
use crate::sources::FileKind;

/// The preset files, compiled in.
const SOURCES: &[(&str, &str)] = &[
    ("hubspot", include_str!("presets/hubspot.toml")),
    ("salesforce", include_str!("presets/salesforce.toml")),
    ("pipedrive", include_str!("presets/pipedrive.toml")),
    ("zendesk", include_str!("presets/zendesk.toml")),
    ("freshdesk", include_str!("presets/freshdesk.toml")),
    ("stripe", include_str!("presets/stripe.toml")),
    ("typeform", include_str!("presets/typeform.toml")),
    ("surveymonkey", include_str!("presets/surveymonkey.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetTable {
    #[serde(default)]
    pub signature: Vec<String>,
    #[serde(default)]
    pub feeds: Vec<String>,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub import: RawImport,
    /// Other layouts of the same export (Salesforce report exports with
    /// field labels beside Data Loader's API names), each a whole mapping
    /// chosen when the file's header has every name of its signature.
    #[serde(default)]
    pub variants: Vec<PresetVariant>,
}

/// Another layout of an export: its signature and its whole mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetVariant {
    pub signature: Vec<String>,
    pub import: RawImport,
}

#[derive(Debug, Deserialize)]
struct PresetFile {
    title: String,
    #[serde(flatten)]
    tables: BTreeMap<String, PresetTable>,
}

#[derive(Debug)]
pub struct Preset {
    pub name: &'static str,
    pub title: String,
    tables: BTreeMap<String, PresetTable>,
}

impl Preset {
    /// Whether a file of this name is found by the preset's own `file`
    /// globs for snapshot file `kind` (of its main layout or a variant).
    pub fn finds(&self, kind: &str, name: &str, glob: impl Fn(&str, &str) -> bool) -> bool {
        self.table(kind).is_some_and(|t| {
            std::iter::once(&t.import)
                .chain(t.variants.iter().map(|v| &v.import))
                .filter_map(RawImport::file)
                .any(|f| glob(f, name))
        })
    }

    pub fn table(&self, file: &str) -> Option<&PresetTable> {
        self.tables.get(file)
    }

    /// The snapshot files this preset maps.
    pub fn files(&self) -> Vec<&str> {
        self.tables.keys().map(String::as_str).collect()
    }
}

fn all() -> &'static [Preset] {
    static ALL: OnceLock<Vec<Preset>> = OnceLock::new();
    ALL.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(name, text)| {
                let file: PresetFile = toml::from_str(text)
                    .unwrap_or_else(|e| panic!("built-in preset {name} is not valid: {e}"));
                Preset {
                    name,
                    title: file.title,
                    tables: file.tables,
                }
            })
            .collect()
    })
}

pub fn find(name: &str) -> Option<&'static Preset> {
    let name = name.trim().to_ascii_lowercase();
    all().iter().find(|p| p.name == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name).collect()
}

/// The preset hint for a missing-column message, if the mapping came from
/// a preset that has one.
pub fn hint(preset: Option<&str>, kind: FileKind) -> Option<String> {
    find(preset?)?.table(kind.key())?.hint.clone()
}

/// A preset whose export this header looks like (every signature name is
/// in it), for a file mapped without that preset.
pub fn recognise(kind: FileKind, header: &[String]) -> Option<(&'static str, String)> {
    all().iter().find_map(|p| {
        let t = p.table(kind.key())?;
        let fits = std::iter::once(&t.signature)
            .chain(t.variants.iter().map(|v| &v.signature))
            .any(|sig| signature_fits(sig, header));
        fits.then(|| (p.name, p.title.clone()))
    })
}

/// Whether every name of a signature is in the header (lowercased names).
pub fn signature_fits(signature: &[String], header: &[String]) -> bool {
    !signature.is_empty()
        && signature
            .iter()
            .all(|s| header.iter().any(|h| h == &s.trim().to_lowercase()))
}

/// A preset and snapshot file for any export this header looks like (for a
/// CSV file that matched no snapshot file name).
pub fn recognise_any(header: &[String]) -> Option<(&'static str, String, FileKind)> {
    FileKind::ALL
        .into_iter()
        .find_map(|k| recognise(k, header).map(|(n, t)| (n, t, k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every preset table is a valid `[import.<file>]` for its file.
    #[test]
    fn every_preset_is_a_valid_mapping() {
        for p in all() {
            assert!(!p.tables.is_empty(), "{}", p.name);
            for (file, t) in &p.tables {
                assert!(FileKind::parse(file).is_some(), "{}: {file}", p.name);
                for f in &t.feeds {
                    assert!(p.table(f).is_some(), "{}: feeds {f}", p.name);
                }
                let toml = format!("[import.{file}]\npreset = \"{}\"\n", p.name);
                let config = crate::config::Config::from_toml(
                    &toml,
                    std::path::Path::new("/base"),
                    None,
                    &crate::config::Env::new(),
                );
                assert!(config.is_ok(), "{} {file}: {:?}", p.name, config.err());
            }
        }
        assert_eq!(names().len(), SOURCES.len());
        assert!(find("HubSpot").is_some());
        assert!(find("zoho").is_none());
    }

    #[test]
    fn headers_are_recognised() {
        let header: Vec<String> = [
            "record id",
            "deal name",
            "deal stage",
            "close date",
            "create date",
            "is closed won",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            recognise(FileKind::Deals, &header).map(|(n, _)| n),
            Some("hubspot")
        );
        assert!(recognise(FileKind::Deals, &header[..2]).is_none());
    }
}
