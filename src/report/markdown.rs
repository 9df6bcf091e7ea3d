//! Markdown → HTML for analyst notes, behind one function that owns every
//! pulldown-cmark option (the zola pattern). Raw HTML in a note is shown as
//! text, never passed through: notes are untrusted.
use pulldown_cmark::{html, Event, Options, Parser, Tag};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// An image a reader's mail client or browser would fetch from elsewhere
/// (a tracking pixel): anything but a `data:` URL or a path relative to
/// the archive.
fn is_remote(url: &str) -> bool {
    let url = url.trim();
    if url.starts_with("//") || url.starts_with('\\') {
        return true;
    }
    match url.split_once(':') {
        // A scheme is letters, digits, `+ - .` before the first `:`, with
        // no `/` before it; `data:` is the only one kept.
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            !scheme.eq_ignore_ascii_case("data")
        }
        _ => false,
    }
}

/// Removes the images of a note that load from another host (`![](http://…)`,
/// reference-style ones included); `data:` and archive-relative images are
/// kept. Returns the note and the URLs dropped, for a warning.
pub fn drop_remote_images(markdown: &str) -> (String, Vec<String>) {
    let mut cut: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for (event, range) in Parser::new_ext(markdown, options()).into_offset_iter() {
        if let Event::Start(Tag::Image { dest_url, .. }) = event {
            if is_remote(&dest_url) && !cut.iter().any(|(r, _)| r.contains(&range.start)) {
                cut.push((range, dest_url.to_string()));
            }
        }
    }
    if cut.is_empty() {
        return (markdown.to_string(), Vec::new());
    }
    let mut out = String::with_capacity(markdown.len());
    let mut at = 0;
    for (range, _) in &cut {
        out.push_str(&markdown[at..range.start]);
        at = range.end;
    }
    out.push_str(&markdown[at..]);
    (out, cut.into_iter().map(|(_, url)| url).collect())
}

pub fn to_safe_html(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, options()).map(|event| match event {
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

/// Escapes text for a Markdown table cell or paragraph (see [`crate::escape::markdown`]).
pub fn escape_inline(text: &str) -> String {
    crate::escape::markdown(text)
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
    fn remote_images_are_dropped() {
        let note = "Churn rose ![pixel](http://track.example/p.gif?u=1).\n\n\
                    ![chart](charts/trend-nps.png) ![dot](data:image/png;base64,iVBO)\n\n\
                    ![ref][t] ![proto](//cdn.example/x.png) [link](https://example.com)\n\n\
                    [t]: HTTPS://track.example/q.gif\n";
        let (kept, dropped) = drop_remote_images(note);
        assert_eq!(
            dropped,
            [
                "http://track.example/p.gif?u=1",
                "HTTPS://track.example/q.gif",
                "//cdn.example/x.png"
            ]
        );
        assert!(kept.starts_with("Churn rose ."), "{kept}");
        assert!(kept.contains("![chart](charts/trend-nps.png)"));
        assert!(kept.contains("data:image/png;base64,iVBO"));
        assert!(kept.contains("[link](https://example.com)"));
        let html = to_safe_html(&kept);
        assert!(!html.contains("track.example/p.gif"), "{html}");
        assert!(!html.contains("cdn.example"), "{html}");
        assert_eq!(drop_remote_images("plain").1.len(), 0);
    }

    #[test]
    fn inline_escape() {
        assert_eq!(escape_inline("a|b <script>"), "a\\|b \\<script\\>");
    }
}
