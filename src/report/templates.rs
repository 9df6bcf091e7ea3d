//! The templates: the five built-ins compiled in, and every file of a user's
//! `templates_dir`. Every file there is loaded under its path relative to
//! the folder (`partials/row.html`), so that a user can add partials and
//! components beside the overrides; a file the scorecard never reaches (it
//! overrides no built-in and no reached template includes it, extends it or
//! calls a component it defines) is most likely a misspelt name, which
//! `scorecard check` reports ([`unused`]).
//!
//! Tera keeps what a template refers to to itself, so the references are
//! read here from the tags (`include`, `extends`, `component` definitions
//! and `<name>` calls).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Failure;

/// The default templates, compiled into the binary.
pub const BUILTIN_TEMPLATES: [(&str, &str); 5] = [
    (
        "scorecard.html",
        include_str!("../../templates/scorecard.html"),
    ),
    ("scorecard.md", include_str!("../../templates/scorecard.md")),
    ("email.html", include_str!("../../templates/email.html")),
    ("index.html", include_str!("../../templates/index.html")),
    ("index.md", include_str!("../../templates/index.md")),
];

/// A file of the user's `templates_dir`.
#[derive(Debug, Clone)]
pub struct UserTemplate {
    /// Its template name: the path under the folder, with `/`.
    pub name: String,
    pub path: PathBuf,
    pub text: String,
}

/// Every file under `dir` (sub-folders too, hidden files and folders
/// skipped), sorted by name. A folder that does not exist holds none.
pub fn read_dir(dir: &Path) -> Result<Vec<UserTemplate>, Failure> {
    let mut files = Vec::new();
    if dir.exists() {
        walk(dir, "", &mut files)?;
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<UserTemplate>) -> Result<(), Failure> {
    let cannot = |p: &Path, e: std::io::Error| {
        Failure::usage(format!("cannot read template {}: {e}", p.display()))
    };
    for entry in std::fs::read_dir(dir).map_err(|e| cannot(dir, e))? {
        let entry = entry.map_err(|e| cannot(dir, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let name = format!("{prefix}{file_name}");
        if path.is_dir() {
            walk(&path, &format!("{name}/"), files)?;
        } else {
            let text = std::fs::read_to_string(&path).map_err(|e| cannot(&path, e))?;
            files.push(UserTemplate { name, path, text });
        }
    }
    Ok(())
}

/// The user's files the scorecard never reaches from the five templates it
/// renders, in name order.
pub fn unused(files: &[UserTemplate]) -> Vec<&UserTemplate> {
    let refs: Vec<Refs> = files.iter().map(|f| Refs::of(&f.text)).collect();
    let mut reached = BTreeSet::new();
    let mut todo: Vec<String> = BUILTIN_TEMPLATES
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    while let Some(name) = todo.pop() {
        let Some(i) = files.iter().position(|f| f.name == name) else {
            continue; // a built-in: it refers to no user file
        };
        if !reached.insert(i) {
            continue;
        }
        todo.extend(refs[i].templates.iter().cloned());
        for call in &refs[i].calls {
            let definers = refs.iter().enumerate();
            todo.extend(
                definers
                    .filter(|(_, r)| r.components.contains(call))
                    .map(|(j, _)| files[j].name.clone()),
            );
        }
    }
    (0..files.len())
        .filter(|i| !reached.contains(i))
        .map(|i| &files[i])
        .collect()
}

/// What one template refers to, read from its tags.
#[derive(Debug, Default, PartialEq)]
struct Refs {
    /// `{% include "x" %}` and `{% extends "x" %}` targets.
    templates: Vec<String>,
    /// `{% component name(...) %}` definitions.
    components: Vec<String>,
    /// `{{<name .../>}}` and `{% <name> %}` calls.
    calls: Vec<String>,
}

impl Refs {
    fn of(text: &str) -> Refs {
        let text = strip_comments(text);
        let mut refs = Refs::default();
        for (open, body) in tags(&text) {
            let body = body.trim_start_matches('-').trim_start();
            if open == "{{" {
                if let Some(call) = body.strip_prefix('<') {
                    refs.calls.push(ident(call));
                }
                continue;
            }
            if let Some(call) = body.strip_prefix('<') {
                if !call.starts_with('/') {
                    refs.calls.push(ident(call));
                }
            } else if let Some(def) = body.strip_prefix("component ") {
                refs.components.push(ident(def.trim_start()));
            } else if let Some(rest) = ["include ", "extends "]
                .iter()
                .find_map(|kw| body.strip_prefix(kw))
            {
                if let Some(name) = string_literal(rest.trim_start()) {
                    refs.templates.push(name);
                }
            }
        }
        refs
    }
}

/// The text without `{# … #}` comments.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{#") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("#}")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// `({%, body)` and `({{, body)` of every tag and expression, in order.
fn tags(text: &str) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let next = [("{%", "%}"), ("{{", "}}")]
            .into_iter()
            .filter_map(|(o, c)| rest.find(o).map(|i| (i, o, c)))
            .min_by_key(|(i, _, _)| *i);
        let Some((i, open, close)) = next else {
            return out;
        };
        let after = &rest[i + 2..];
        let end = after.find(close).unwrap_or(after.len());
        out.push((open, &after[..end]));
        rest = &after[end..];
    }
}

/// The (dotted) name a component definition or call starts with.
fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
        .collect()
}

/// The content of a leading `"…"`, `'…'` or `` `…` `` literal.
fn string_literal(s: &str) -> Option<String> {
    let quote = s.chars().next().filter(|c| matches!(c, '"' | '\'' | '`'))?;
    let body = &s[1..];
    body.find(quote).map(|end| body[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> UserTemplate {
        UserTemplate {
            name: name.into(),
            path: PathBuf::from(name),
            text: text.into(),
        }
    }

    #[test]
    fn references_are_read_from_the_tags() {
        let r = Refs::of(
            "{%- include \"partials/row.html\" %}{% extends '__builtin/x' %}{# {% include \"gone\" %} #}\
             {% component ui.card(title) %}{{ body }}{% endcomponent ui.card %}\
             {{<badge label=\"x\"/>}}{% <ui.card title=\"t\"> %}in{% </ui.card> %}{{ value }}",
        );
        assert_eq!(r.templates, ["partials/row.html", "__builtin/x"]);
        assert_eq!(r.components, ["ui.card"]);
        assert_eq!(r.calls, ["badge", "ui.card"]);
    }

    #[test]
    fn only_files_the_scorecard_never_reaches_are_unused() {
        let files = [
            file(
                "scorecard.html",
                "{% include \"partials/head.html\" %}{{<badge/>}}",
            ),
            file(
                "partials/head.html",
                "{% include \"partials/deeper.html\" %}",
            ),
            file("partials/deeper.html", "x"),
            file(
                "components.html",
                "{% component badge() %}b{% endcomponent %}",
            ),
            file("scorecard.htm", "{% include \"partials/orphan.html\" %}"),
            file("partials/orphan.html", "y"),
        ];
        let unused: Vec<&str> = unused(&files).iter().map(|f| f.name.as_str()).collect();
        assert_eq!(unused, ["scorecard.htm", "partials/orphan.html"]);
    }
}
