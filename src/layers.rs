//! The house picture as a test: data flows one way (design.md "The shape").
//! docs/design.md lists the top-level modules in a ```` ```layers ```` block,
//! leaves first, then the stages in order, then the commands; a module may
//! name (`crate::…`, or `scorecard::…` in main.rs) only modules listed before
//! it. The test reads every file under src/ (tests beside the code too) and
//! fails with each path that points back up, at its file:line.
//!
//! Paths are found by a small lexer that skips comments, strings and
//! character literals; `use crate::{a, b::c}` groups count each name.
//! `super::` paths stay inside their own module by house habit and are not
//! followed.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The order of docs/design.md's `layers` block: module → position.
fn layers(design: &str) -> Result<BTreeMap<String, usize>, String> {
    let block = design
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .ok_or("docs/design.md has no ```layers block")?;
    let mut order = BTreeMap::new();
    for line in block.lines() {
        let names = line.split_once(':').map_or(line, |(_, names)| names);
        for name in names.split_whitespace() {
            let at = order.len();
            if order.insert(name.to_string(), at).is_some() {
                return Err(format!("docs/design.md lists {name} twice in ```layers"));
            }
        }
    }
    Ok(order)
}

/// The top-level module a file under src/ belongs to (lib.rs and main.rs
/// are the crate root, `lib`).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = first.strip_suffix(".rs").unwrap_or(&first);
    match name {
        "main" => "lib".to_string(),
        other => other.to_string(),
    }
}

/// The code of a Rust file with comments, strings and character literals
/// blanked (newlines kept, so that offsets give the same lines).
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match literal_end(&b, i) {
            Some(end) => {
                let end = end.min(b.len());
                out.extend(
                    b[i..end]
                        .iter()
                        .map(|&c| if c == '\n' { '\n' } else { ' ' }),
                );
                i = end;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// Where the comment, string or character literal that starts at `i` ends
/// (None: no literal starts there; a lifetime is none).
fn literal_end(b: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| b.get(k).copied();
    match (b[i], at(i + 1)) {
        ('/', Some('/')) => Some((i..b.len()).find(|&k| b[k] == '\n').unwrap_or(b.len())),
        ('/', Some('*')) => Some(block_comment_end(b, i)),
        ('r', Some('"' | '#')) if !ident_before(b, i) => raw_string_end(b, i),
        ('"', _) => {
            let mut k = i + 1;
            while k < b.len() && b[k] != '"' {
                k += if b[k] == '\\' { 2 } else { 1 };
            }
            Some(k + 1)
        }
        // A character literal ('x', '\n', '\u{..}'), else a lifetime.
        ('\'', Some('\\')) => (i + 3..b.len()).find(|&k| b[k] == '\'').map(|k| k + 1),
        ('\'', _) if at(i + 2) == Some('\'') => Some(i + 3),
        _ => None,
    }
}

/// The end of a (nested) block comment starting at `i`.
fn block_comment_end(b: &[char], i: usize) -> usize {
    let mut depth = 0;
    let mut k = i;
    while k < b.len() {
        if b[k] == '/' && b.get(k + 1) == Some(&'*') {
            depth += 1;
            k += 2;
        } else if b[k] == '*' && b.get(k + 1) == Some(&'/') {
            depth -= 1;
            k += 2;
            if depth == 0 {
                return k;
            }
        } else {
            k += 1;
        }
    }
    k
}

/// The end of a raw string r"…" or r#"…"# starting at `i` (None: an
/// identifier that starts with r, followed by #).
fn raw_string_end(b: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while b.get(j) == Some(&'#') {
        j += 1;
    }
    if b.get(j) != Some(&'"') {
        return None;
    }
    let hashes = j - i - 1;
    let mut k = j + 1;
    while k < b.len() {
        if b[k] == '"' && (0..hashes).all(|h| b.get(k + 1 + h) == Some(&'#')) {
            return Some(k + 1 + hashes);
        }
        k += 1;
    }
    Some(k)
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// Every top-level module a file's code names through the crate root, with
/// the line it is named on.
fn named_modules(code: &str, root: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let prefix = format!("{root}::");
    let mut from = 0;
    while let Some(at) = code[from..].find(&prefix) {
        let start = from + at;
        from = start + prefix.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        let rest = code[from..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::{c, d}, e as f}`: the names at depth 0.
            let mut depth = 0;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            items.push(item);
            for item in items {
                let name = first_ident(item.trim_start());
                if !name.is_empty() {
                    out.push((line, name));
                }
            }
        } else {
            let name = first_ident(rest);
            if !name.is_empty() {
                out.push((line, name));
            }
        }
    }
    out
}

fn first_ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The paths of `text` (the file `rel` under src/) that point back up the
/// layers: "file:line: a names b (…)".
fn back_edges(rel: &Path, text: &str, order: &BTreeMap<String, usize>) -> Vec<String> {
    let module = module_of(rel);
    let Some(&mine) = order.get(&module) else {
        return vec![format!(
            "src/{}: module {module} is not in docs/design.md's ```layers block: place it there",
            rel.display()
        )];
    };
    let root = if module == "lib" && rel == Path::new("main.rs") {
        "scorecard"
    } else {
        "crate"
    };
    let code = code_only(text);
    let mut out = Vec::new();
    for (line, name) in named_modules(&code, root) {
        // Items of the crate root itself (lib.rs's `run`, `exit_code`).
        let target = if order.contains_key(&name) {
            name
        } else {
            "lib".to_string()
        };
        let theirs = order[&target];
        if target != module && theirs > mine {
            out.push(format!(
                "src/{}:{line}: {module} names {target} ({root}::{target}), which comes after it in docs/design.md's layers: move the shared item into a leaf or an earlier module",
                rel.display()
            ));
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_names_a_later_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let design = fs::read_to_string(root.join("docs/design.md")).unwrap();
    let order = layers(&design).unwrap();
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for path in &files {
        let rel = path.strip_prefix(&src).unwrap();
        seen.insert(module_of(rel));
        let text = fs::read_to_string(path).unwrap();
        problems.extend(back_edges(rel, &text, &order));
    }
    for name in order.keys() {
        if !seen.contains(name) {
            problems.push(format!(
                "docs/design.md's layers list {name}, which is no module under src/"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[cfg(test)]
mod checks {
    use super::*;

    fn order() -> BTreeMap<String, usize> {
        layers("x\n```layers\nleaves: model sources\nstages: config store\ntop: lib\n```\n")
            .unwrap()
    }

    #[test]
    fn a_leaf_naming_a_stage_is_a_back_edge() {
        let text = "use crate::model::KpiValue;\n\nfn f(s: &crate::config::StageFrom) {}\n";
        let found = back_edges(Path::new("sources/cells.rs"), text, &order());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("src/sources/cells.rs:3: sources names config (crate::config)"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn groups_count_each_name_and_forward_edges_pass() {
        let text = "use crate::{\n    model::{A, B},\n    store::Store,\n    sources,\n};\n";
        let found = back_edges(Path::new("config/mod.rs"), text, &order());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("src/config/mod.rs:1: config names store"));
        assert!(back_edges(Path::new("store/mod.rs"), text, &order()).is_empty());
    }

    #[test]
    fn comments_strings_and_characters_do_not_count() {
        let text = "//! see [`crate::store`]\n/* crate::store */\nconst A: &str = \"crate::store\";\nconst Q: char = '\"';\nconst R: &str = r#\"crate::store\"#;\nfn f<'a>(x: &'a str) {}\npub(crate) fn g() {}\n";
        assert_eq!(
            back_edges(Path::new("model.rs"), text, &order()),
            Vec::<String>::new()
        );
        // The same path in code is found, after the literals.
        let text = format!("{text}use crate::store::Store;\n");
        assert_eq!(back_edges(Path::new("model.rs"), &text, &order()).len(), 1);
    }

    #[test]
    fn main_names_the_library_by_its_crate_name_and_unknown_modules_are_refused() {
        let found = back_edges(Path::new("main.rs"), "scorecard::store::open()", &order());
        assert!(found.is_empty(), "{found:?}");
        let found = back_edges(Path::new("sources.rs"), "crate::exit_code(&e)", &order());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("sources names lib"));
        let found = back_edges(Path::new("newthing.rs"), "", &order());
        assert!(found[0].contains("is not in docs/design.md's ```layers block"));
    }
}
