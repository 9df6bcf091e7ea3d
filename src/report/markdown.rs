//! Markdown → HTML for analyst notes, behind one function that owns every
//! pulldown-cmark option (the zola pattern). Raw HTML in a note is shown as
//! text, never passed through: notes are untrusted.
use pulldown_cmark::{html, Event, Options, Parser};

pub fn to_safe_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let parser = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    // Links may only go to http(s) and mail addresses.
    out.replace("href=\"javascript:", "href=\"#blocked:")
        .replace("src=\"javascript:", "src=\"#blocked:")
}

/// The note as Markdown for the `.md` scorecard, with `<` escaped so that no
/// raw HTML survives into a renderer that would pass it through.
pub fn without_html(markdown: &str) -> String {
    markdown.replace('<', "&lt;").trim().to_string()
}

/// Escapes text for a Markdown table cell or paragraph.
pub fn escape_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c)
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = to_safe_html(
            "**Churn** rose. <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>",
        );
        assert!(html.contains("<strong>Churn</strong>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<img"));
        assert!(!to_safe_html("[x](javascript:alert(1))").contains("javascript:"));
    }

    #[test]
    fn inline_escape() {
        assert_eq!(escape_inline("a|b <script>"), "a\\|b \\<script\\>");
    }
}
