//! The JSON each webhook takes, built from a [`Notice`]:
//!
//! - **Slack** incoming webhook: `text` (the notification and fallback
//!   line) plus Block Kit `blocks`: a `header`, a `context` line with the
//!   dates and segment, a `section` whose `fields` are the headline figures
//!   (at most 10), a `section` of the top insights and an `actions` button
//!   to the archived page. Text is `mrkdwn`, with `&`, `<` and `>` escaped as
//!   Slack asks, so no value can become a link or a `<!channel>` mention.
//! - **Microsoft Teams** (a Workflows "when a Teams webhook request is
//!   received" flow, or a legacy incoming webhook): a `message` whose one
//!   attachment is an Adaptive Card 1.4
//!   (`application/vnd.microsoft.card.adaptive`): title and dates as
//!   `TextBlock`s, the headline as a `FactSet`, the insights as a list, and
//!   an `Action.OpenUrl` to the archived page. Workflows accept Adaptive
//!   Cards only (not the older MessageCard), and the legacy webhooks accept
//!   this envelope too.
//!
//! The bytes are deterministic (no timestamps), so that the same figures
//! give the same payload and the ledger's content hash finds a repost.
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::NotifyKind;
use crate::report::notice::{Notice, NoticeFigure};

/// Slack's limits: header text 150 characters, a field 2,000, a section 3,000.
const SLACK_HEADER_MAX: usize = 150;
const SLACK_FIELD_MAX: usize = 2000;
const SLACK_SECTION_MAX: usize = 3000;
const SLACK_FIELDS_MAX: usize = 10;

pub fn build(kind: NotifyKind, notice: &Notice) -> Vec<u8> {
    let value = match kind {
        NotifyKind::Slack => slack(notice),
        NotifyKind::Teams => teams(notice),
    };
    let mut bytes = serde_json::to_vec(&value).expect("plain JSON");
    bytes.push(b'\n');
    bytes
}

/// The ledger's content hash of a payload.
pub fn content_hash(payload: &[u8]) -> String {
    hex::encode(&Sha256::digest(payload)[..16])
}

/// "Weekly CRM scorecard · 2026-W47 · EMEA (region)".
fn heading(n: &Notice) -> String {
    let mut s = format!("{} · {}", one_line(&n.title), n.period);
    if let Some(seg) = &n.segment {
        s.push_str(" · ");
        s.push_str(&one_line(seg));
    }
    s
}

/// "$1,234 ▲ +5.0 better · ✓ On track".
fn figure_text(f: &NoticeFigure) -> String {
    let mut s = f.value.clone();
    if !f.change.is_empty() {
        s.push(' ');
        s.push_str(&f.change);
        if !f.verdict.is_empty() {
            s.push(' ');
            s.push_str(&f.verdict);
        }
    }
    if !matches!(f.status.as_str(), "no_target" | "no_data") {
        s.push_str(" · ");
        if !f.status_symbol.is_empty() {
            s.push_str(&f.status_symbol);
            s.push(' ');
        }
        s.push_str(&f.status_label);
    }
    s
}

/// One line of plain text: control characters and line breaks become spaces.
fn one_line(s: &str) -> String {
    crate::escape::text(s)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Slack's mrkdwn escaping: `&`, `<`, `>` (what makes links and mentions).
fn slack_escape(s: &str) -> String {
    one_line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts `s` to at most `max` characters, ending in "…" when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn slack(n: &Notice) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&heading(n), SLACK_HEADER_MAX), "emoji": false}
    })];
    let mut context = slack_escape(&n.period_label);
    if let Some(seg) = &n.segment {
        context.push_str(" · segment ");
        context.push_str(&slack_escape(seg));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": context}]
    }));
    let fields: Vec<Value> = n
        .headline
        .iter()
        .take(SLACK_FIELDS_MAX)
        .map(|f| {
            json!({
                "type": "mrkdwn",
                "text": cut(&format!("*{}*\n{}", slack_escape(&f.title), slack_escape(&figure_text(f))), SLACK_FIELD_MAX)
            })
        })
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if !n.insights.is_empty() {
        let mut text = String::from("*What the figures say*");
        for i in &n.insights {
            text.push_str("\n• ");
            text.push_str(&slack_escape(i));
        }
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&text, SLACK_SECTION_MAX)}
        }));
    }
    if let Some(link) = &n.link {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open the scorecard"},
                "url": link
            }]
        }));
    }
    json!({"text": fallback(n), "blocks": blocks})
}

/// The notification line: the heading and the first three headline figures.
fn fallback(n: &Notice) -> String {
    let figures: Vec<String> = n
        .headline
        .iter()
        .take(3)
        .map(|f| format!("{} {}", f.title, figure_text(f)))
        .collect();
    let mut s = heading(n);
    if !figures.is_empty() {
        s.push_str(": ");
        s.push_str(&figures.join("; "));
    }
    slack_escape(&s)
}

fn teams(n: &Notice) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": heading(n), "weight": "Bolder", "size": "Medium", "wrap": true}),
        json!({"type": "TextBlock", "text": match &n.segment {
            Some(seg) => format!("{} · segment {}", n.period_label, one_line(seg)),
            None => n.period_label.clone(),
        }, "isSubtle": true, "spacing": "None", "wrap": true}),
    ];
    if !n.headline.is_empty() {
        let facts: Vec<Value> = n
            .headline
            .iter()
            .map(|f| json!({"title": one_line(&f.title), "value": one_line(&figure_text(f))}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    if !n.insights.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "What the figures say", "weight": "Bolder", "wrap": true}));
        let list: Vec<String> = n
            .insights
            .iter()
            .map(|i| format!("- {}", one_line(i)))
            .collect();
        body.push(json!({"type": "TextBlock", "text": list.join("\n"), "wrap": true}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(link) = &n.link {
        card["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open the scorecard", "url": link}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            title: "Weekly CRM scorecard".into(),
            period: "2026-W47".into(),
            period_label: "16 Nov 2026 – 22 Nov 2026".into(),
            segment: Some("region=<!channel>".into()),
            headline: vec![
                NoticeFigure {
                    title: "Revenue".into(),
                    value: "$1,234".into(),
                    change: "▲ +$50".into(),
                    verdict: "better".into(),
                    status: "on_track".into(),
                    status_symbol: "✓".into(),
                    status_label: "On track".into(),
                },
                NoticeFigure {
                    title: "Net Promoter Score".into(),
                    value: "22.9".into(),
                    change: "▼ −2.4".into(),
                    verdict: "worse".into(),
                    status: "no_target".into(),
                    status_symbol: String::new(),
                    status_label: "No target".into(),
                },
            ],
            insights: vec!["Churn rose & <b>fell</b>".into()],
            link: Some("https://reports.example.com/weekly/2026-W47/scorecard.html".into()),
        }
    }

    #[test]
    fn slack_has_text_blocks_and_escapes_markup() {
        let v: Value = serde_json::from_slice(&build(NotifyKind::Slack, &notice())).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(
            text.starts_with("Weekly CRM scorecard · 2026-W47"),
            "{text}"
        );
        assert!(
            text.contains("Revenue $1,234 ▲ +$50 better · ✓ On track"),
            "{text}"
        );
        assert!(!text.contains("<!channel>"), "{text}");
        let blocks = v["blocks"].as_array().unwrap();
        let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["header", "context", "section", "section", "actions"]
        );
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), 2);
        assert_eq!(
            blocks[2]["fields"][1]["text"],
            "*Net Promoter Score*\n22.9 ▼ −2.4 worse"
        );
        assert_eq!(
            blocks[3]["text"]["text"],
            "*What the figures say*\n• Churn rose &amp; &lt;b&gt;fell&lt;/b&gt;"
        );
        assert_eq!(
            blocks[4]["elements"][0]["url"],
            "https://reports.example.com/weekly/2026-W47/scorecard.html"
        );
    }

    #[test]
    fn teams_is_an_adaptive_card_in_an_attachment() {
        let v: Value = serde_json::from_slice(&build(NotifyKind::Teams, &notice())).unwrap();
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &a["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["body"][2]["type"], "FactSet");
        assert_eq!(
            card["body"][2]["facts"][0]["value"],
            "$1,234 ▲ +$50 better · ✓ On track"
        );
        assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    }

    #[test]
    fn no_link_no_button_and_the_bytes_are_stable() {
        let mut n = notice();
        n.link = None;
        let a = build(NotifyKind::Slack, &n);
        let v: Value = serde_json::from_slice(&a).unwrap();
        assert!(v["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"));
        assert_eq!(
            content_hash(&a),
            content_hash(&build(NotifyKind::Slack, &n))
        );
        assert_ne!(
            content_hash(&a),
            content_hash(&build(NotifyKind::Slack, &notice()))
        );
    }

    #[test]
    fn long_texts_are_cut_to_slack_limits() {
        let mut n = notice();
        n.title = "x".repeat(400);
        let v: Value = serde_json::from_slice(&build(NotifyKind::Slack, &n)).unwrap();
        let header = v["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), SLACK_HEADER_MAX);
        assert!(header.ends_with('…'));
    }
}
