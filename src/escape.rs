//! Escaping of untrusted values for each place they end up in (issue 12).
//!
//! Segment values, activity kinds, survey comments and file names come from
//! the CRM export and may hold anything: a `|` and a newline that break a
//! Markdown table, `<img onerror>`, terminal escape sequences, a spreadsheet
//! formula. Each destination has one function here:
//!
//! - [`markdown`]: a Markdown table cell or inline text (the `md` Tera filter).
//! - [`text`]: one line of plain text, such as an email subject (the `text`
//!   Tera filter).
//! - [`terminal`]: text printed by `show` and `kpis`.
//! - [`csv_cell`]: a cell of a CSV file meant for spreadsheets (kpis.csv, the
//!   rejects file).
//! - HTML: Tera's autoescape, as for every `.html` template.
//!
//! Control characters (and the bidirectional overrides that reorder what a
//! reader sees) are shown as `\u{1b}` everywhere but CSV, where they are
//! kept so that the data stays the data.
use std::borrow::Cow;

/// A control character, or a Unicode formatting character that changes how
/// the text around it is displayed (bidi overrides, isolates, marks).
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_code(out: &mut String, c: char) {
    out.push_str(&format!("\\u{{{:x}}}", c as u32));
}

/// Text for a terminal: control characters (ESC, CR, BEL, …) and bidi
/// overrides shown as `\u{1b}`, so that a value can neither move the
/// cursor, recolour the screen nor hide what follows it.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden(c) {
            push_code(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line of plain text: line breaks and tabs become spaces, other
/// control characters are shown as `\u{…}`.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if is_hidden(c) => push_code(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Inline Markdown (a table cell, a list item, a heading): the characters
/// that start emphasis, code, links, headings or table cells are
/// backslash-escaped, `<` and `>` included so that no HTML passes through
/// (the Markdown is also the email's plain-text part, so nothing else is
/// escaped that would only make it harder to read), line breaks become
/// spaces (a cell cannot end its row or start a heading) and control
/// characters are shown as `\u{…}`.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c)
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if is_hidden(c) => push_code(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// A CSV cell meant for a spreadsheet: a text starting with `=`, `+`, `-`,
/// `@` (or a tab or carriage return) would run as a formula, so it gets a
/// leading `'`. A plain number such as `-30` is left as it is.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let risky = s
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && s.trim().parse::<f64>().map_or(true, |v| !v.is_finite()) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The Tera filters of the Markdown and text templates: `{{ x | md }}`,
/// `{{ x | text }}`. Numbers and other non-strings pass through as text.
pub fn register_filters(tera: &mut tera::Tera) {
    tera.register_filter(
        "md",
        |v: &tera::Value, _: tera::Kwargs, _: &tera::State| -> String {
            match v.as_str() {
                Some(s) => markdown(s),
                None => markdown(&v.to_string()),
            }
        },
    );
    tera.register_filter(
        "text",
        |v: &tera::Value, _: tera::Kwargs, _: &tera::State| -> String {
            match v.as_str() {
                Some(s) => text(s),
                None => text(&v.to_string()),
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_shows_control_characters() {
        assert_eq!(terminal("call"), "call");
        assert_eq!(terminal("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(terminal("x\ry\u{7}"), "x\\u{d}y\\u{7}");
        assert_eq!(terminal("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(terminal("Île-de-France"), "Île-de-France");
    }

    #[test]
    fn text_is_one_line() {
        assert_eq!(text("a\nb\r\nc\td"), "a b  c d");
        assert_eq!(text("x\u{1b}]0;title\u{7}"), "x\\u{1b}]0;title\\u{7}");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(
            markdown("EMEA | x\n# Owned"),
            "EMEA \\| x \\# Owned",
            "a pipe and a newline stay inside the cell"
        );
        assert_eq!(
            markdown("<img src=x onerror=alert(1)>"),
            "\\<img src=x onerror=alert(1)\\>"
        );
        assert_eq!(markdown("![t](http://x/p.gif)"), "!\\[t\\](http://x/p.gif)");
        assert_eq!(markdown("a_b*c`d"), "a\\_b\\*c\\`d");
        assert_eq!(markdown("$12,340 & co"), "$12,340 & co");
        assert_eq!(markdown("bell\u{7}"), "bell\\u{7}");
        assert_eq!(markdown("Île-de-France 42.1%"), "Île-de-France 42.1%");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(csv_cell("+cmd"), "'+cmd");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("-30"), "-30");
        assert_eq!(csv_cell("+1.5"), "+1.5");
        assert_eq!(csv_cell("-inf"), "'-inf");
        assert_eq!(csv_cell("region=EMEA"), "region=EMEA");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn filters_escape_in_templates() {
        let mut t = tera::Tera::default();
        register_filters(&mut t);
        t.add_raw_template("x.md", "| {{ a | md }} | {{ n | md }} | {{ a | text }}")
            .unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert("a", "x|y\nz");
        ctx.insert("n", &3);
        assert_eq!(t.render("x.md", &ctx).unwrap(), "| x\\|y z | 3 | x|y z");
    }
}
