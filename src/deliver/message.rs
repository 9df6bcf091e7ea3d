//! Building one scorecard email (vaultwarden's layout):
//!
//! ```text
//! multipart/mixed
//! ├── multipart/alternative
//! │   ├── text/plain            the Markdown scorecard
//! │   └── multipart/related
//! │       ├── text/html         CSS inlined, charts as <img src="cid:…">
//! │       └── image/png …       one inline part per chart, Content-ID = cid
//! └── text/csv                  kpis.csv, attached
//! ```
//!
//! Everything is a function of its inputs: the Date is the run's `now`, the
//! Message-ID and the MIME boundaries derive from the content hash, so the
//! same report built twice gives the same bytes.
use std::time::SystemTime;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use super::Outgoing;
use crate::config::Recipient;

/// The ledger's key for a recipient entry: its addresses, comma-joined.
pub fn recipient_key(r: &Recipient) -> String {
    r.to.iter()
        .map(|m| m.email.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The hash of what the recipient reads: their scope and its figures
/// (kpis.csv holds every value, comparison and status of the scorecard).
/// The presentation is left out on purpose: the "generated at" line, a
/// template or chart-style change, or a new subject template do not make a
/// new report, so a re-run does not mail the same figures again; corrected
/// figures do.
pub fn content_hash(o: &Outgoing) -> String {
    let mut h = Sha256::new();
    h.update(b"scorecard.content/1\n");
    h.update(o.segment.as_bytes());
    h.update(b"\n");
    h.update(&o.attachment_csv);
    hex::encode(h.finalize())
}

/// `<32 hex digits@from-domain>`, from the period, the recipient and the
/// content hash (and the resend count, so that a `--force` resend is not
/// dropped as a duplicate by Gmail, which ignores a Message-ID seen before).
pub fn message_id(
    cadence: &str,
    period: &str,
    recipient: &str,
    content_hash: &str,
    resends: u32,
    from: &Mailbox,
) -> String {
    let mut h = Sha256::new();
    h.update(
        format!("scorecard.message-id/1\n{cadence}\n{period}\n{recipient}\n{content_hash}\n")
            .as_bytes(),
    );
    if resends > 0 {
        h.update(format!("resend {resends}\n").as_bytes());
    }
    let digest = hex::encode(&h.finalize()[..16]);
    let domain = from.email.domain();
    let domain = if !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        domain
    } else {
        "scorecard.localhost"
    };
    format!("<{digest}@{domain}>")
}

/// `"Weekly CRM scorecard" <weekly-crm-scorecard.example.com>`: a phrase and
/// a dot-atom list label under the sender's domain (RFC 2919), ASCII only.
pub fn list_id(name: &str, from: &Mailbox) -> String {
    // "Île-de-France" → "Ile-de-France": letters keep their base letter
    // rather than vanish (other scripts still drop out).
    let name: String = name
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect();
    let mut label = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            label.push(c);
        } else if !label.ends_with('-') && !label.is_empty() {
            label.push('-');
        }
    }
    let label = label.trim_end_matches('-');
    let label = if label.is_empty() { "scorecard" } else { label };
    let domain = from.email.domain();
    let domain = if !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        domain
    } else {
        "scorecard.localhost"
    };
    let phrase: String = name
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect();
    format!("\"{}\" <{label}.{domain}>", phrase.trim())
}

/// The fully formatted message (RFC 5322 bytes, CRLF line ends).
pub fn build(
    from: &Mailbox,
    o: &Outgoing,
    message_id: &str,
    content_hash: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>> {
    // Boundaries from the hash: "=_" never occurs in quoted-printable or
    // base64 bodies, and the hash never occurs in the 7-bit ones.
    let boundary = |kind: &str| {
        format!(
            "=_scorecard_{}_{kind}",
            &content_hash[..content_hash.len().min(24)]
        )
    };
    let png = ContentType::parse("image/png").expect("a valid content type");
    let csv_type = ContentType::parse("text/csv; charset=utf-8").expect("a valid content type");

    // RFC 2387 asks multipart/related to name the type of its root part.
    let related_type = format!(
        "multipart/related; boundary=\"{}\"; type=\"text/html\"",
        boundary("related")
    );
    let related_type = ContentType::parse(&related_type).expect("a valid content type");
    let mut related = MultiPart::builder()
        .header(related_type)
        .singlepart(SinglePart::html(o.parts.html.clone()));
    for (cid, bytes, _alt) in &o.parts.images {
        related = related
            .singlepart(Attachment::new_inline(cid.clone()).body(bytes.clone(), png.clone()));
    }
    let alternative = MultiPart::alternative()
        .boundary(boundary("alternative"))
        .singlepart(SinglePart::plain(o.parts.text.clone()))
        .multipart(related);
    let csv = Attachment::new("kpis.csv".into());
    let csv = match std::str::from_utf8(&o.attachment_csv) {
        Ok(text) => csv.body(text.to_string(), csv_type),
        Err(_) => csv.body(o.attachment_csv.clone(), csv_type),
    };
    let mixed = MultiPart::mixed()
        .boundary(boundary("mixed"))
        .multipart(alternative)
        .singlepart(csv);

    let mut builder = Message::builder()
        .from(from.clone())
        .subject(o.parts.subject.clone())
        .date(SystemTime::from(now))
        .message_id(Some(message_id.to_string()))
        // RFC 3834, and Exchange's equivalent: no out-of-office replies to a robot.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        ))
        // RFC 2919: mail clients file and filter the scorecards by this.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Id"),
            list_id(&o.parts.list_name, from),
        ));
    for to in &o.recipient.to {
        builder = builder.to(to.clone());
    }
    let message = builder.multipart(mixed).with_context(|| {
        format!(
            "cannot build the email of {} for {}",
            o.period,
            recipient_key(&o.recipient)
        )
    })?;
    Ok(message.formatted())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::period::Cadence;
    use crate::report::EmailParts;

    /// A real (tiny) PNG, so that clients and parsers see an image.
    pub fn png(seed: u8) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 2, 2);
            enc.set_color(png::ColorType::Rgb);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&[seed; 12]).unwrap();
        }
        out
    }

    pub fn outgoing(period: &str, to: &[&str], csv: &str) -> Outgoing {
        let html = "<html><body><p>NPS</p><img src=\"cid:trend-nps.png\" alt=\"NPS trend\"><img src=\"cid:trend-revenue.png\" alt=\"Revenue trend\"></body></html>";
        Outgoing {
            cadence: Cadence::Weekly,
            period: period.into(),
            recipient: Recipient {
                to: to.iter().map(|a| a.parse().unwrap()).collect(),
                segment: None,
            },
            segment: String::new(),
            parts: EmailParts {
                subject: format!("Weekly CRM scorecard {period} — café"),
                text: "# Weekly CRM scorecard\n\n| KPI | value |\n|---|---|\n| NPS | 41.2 |\n"
                    .into(),
                html: html.into(),
                images: vec![
                    ("trend-nps.png".into(), png(10), "NPS trend".into()),
                    ("trend-revenue.png".into(), png(200), "Revenue trend".into()),
                ],
                list_name: "Weekly CRM scorecard".into(),
            },
            attachment_csv: csv.as_bytes().to_vec(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T07:00:00Z".parse().unwrap()
    }

    fn built(o: &Outgoing) -> (String, Vec<u8>) {
        let from: Mailbox = "Scorecard <scorecard@example.com>".parse().unwrap();
        let hash = content_hash(o);
        let id = message_id(
            "weekly",
            &o.period,
            &recipient_key(&o.recipient),
            &hash,
            0,
            &from,
        );
        let bytes = build(&from, o, &id, &hash, now()).unwrap();
        (id, bytes)
    }

    /// Checks the structure a mail client relies on; returns the parsed mail's
    /// plain text, for further checks.
    pub fn assert_scorecard_mail(bytes: &[u8]) -> String {
        let mail = mailparse::parse_mail(bytes).unwrap();
        assert_eq!(mail.ctype.mimetype, "multipart/mixed");
        let mut parts = Vec::new();
        collect(&mail, &mut parts);
        let find = |t: &str| {
            parts
                .iter()
                .filter(|p| p.ctype.mimetype == t)
                .collect::<Vec<_>>()
        };
        // Both alternatives, inside multipart/alternative.
        let alt = find("multipart/alternative");
        assert_eq!(alt.len(), 1);
        let alt_types: Vec<_> = alt[0]
            .subparts
            .iter()
            .map(|p| p.ctype.mimetype.clone())
            .collect();
        assert_eq!(alt_types, ["text/plain", "multipart/related"]);
        let related = &alt[0].subparts[1];
        assert_eq!(
            related.ctype.params.get("type").map(String::as_str),
            Some("text/html")
        );
        assert_eq!(related.subparts[0].ctype.mimetype, "text/html");
        let text = find("text/plain")[0].get_body().unwrap();
        assert!(
            text.contains("scorecard") || text.contains("Scorecard"),
            "{text}"
        );
        let html = related.subparts[0].get_body().unwrap();
        // Every cid: reference resolves to an image/png part of the related group.
        let cids: Vec<String> = html
            .split("cid:")
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| c == '"' || c == '\'' || c == ')' || c.is_whitespace())
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(!cids.is_empty(), "the html references no image");
        for cid in &cids {
            let part = related
                .subparts
                .iter()
                .find(|p| {
                    p.headers.iter().any(|h| {
                        h.get_key().eq_ignore_ascii_case("Content-ID")
                            && h.get_value()
                                .trim_matches(|c| c == '<' || c == '>' || c == ' ')
                                == cid
                    })
                })
                .unwrap_or_else(|| panic!("no part with Content-ID <{cid}>"));
            assert_eq!(part.ctype.mimetype, "image/png");
            let body = part.get_body_raw().unwrap();
            assert!(body.starts_with(b"\x89PNG"), "cid {cid} is not a PNG");
        }
        // kpis.csv attached.
        let csv = find("text/csv");
        assert_eq!(csv.len(), 1);
        let disp = csv[0].get_content_disposition();
        assert_eq!(disp.disposition, mailparse::DispositionType::Attachment);
        assert_eq!(
            disp.params.get("filename").map(String::as_str),
            Some("kpis.csv")
        );
        text
    }

    fn collect<'a>(m: &'a mailparse::ParsedMail<'a>, out: &mut Vec<&'a mailparse::ParsedMail<'a>>) {
        out.push(m);
        for p in &m.subparts {
            collect(p, out);
        }
    }

    fn header(bytes: &[u8], name: &str) -> Option<String> {
        use mailparse::MailHeaderMap;
        mailparse::parse_mail(bytes)
            .unwrap()
            .headers
            .get_first_value(name)
    }

    #[test]
    fn the_message_has_both_parts_its_images_and_the_csv() {
        let o = outgoing(
            "2026-W47",
            &["Lead <lead@example.com>"],
            "period,kpi,value\n2026-W47,nps,41.2\n",
        );
        let (id, bytes) = built(&o);
        let text = assert_scorecard_mail(&bytes);
        assert!(text.contains("| NPS | 41.2 |"));
        assert_eq!(header(&bytes, "Message-ID").as_deref(), Some(id.as_str()));
        assert_eq!(
            header(&bytes, "Subject").as_deref(),
            Some("Weekly CRM scorecard 2026-W47 — café")
        );
        assert_eq!(
            header(&bytes, "Date").as_deref(),
            Some("Mon, 23 Nov 2026 07:00:00 +0000")
        );
        assert_eq!(
            header(&bytes, "From").as_deref(),
            Some("Scorecard <scorecard@example.com>")
        );
        assert_eq!(
            header(&bytes, "To").as_deref(),
            Some("Lead <lead@example.com>")
        );
        assert_eq!(
            header(&bytes, "Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert_eq!(
            header(&bytes, "List-Id").as_deref(),
            Some("\"Weekly CRM scorecard\" <weekly-crm-scorecard.example.com>")
        );
        assert!(bytes.is_ascii(), "the formatted message is 7-bit clean");
        let mail = mailparse::parse_mail(&bytes).unwrap();
        let csv = mail
            .subparts
            .iter()
            .find(|p| p.ctype.mimetype == "text/csv")
            .unwrap();
        assert_eq!(
            csv.get_body().unwrap().replace("\r\n", "\n"),
            "period,kpi,value\n2026-W47,nps,41.2\n"
        );
    }

    #[test]
    fn the_message_id_is_stable_and_follows_the_content() {
        let a = outgoing("2026-W47", &["lead@example.com"], "nps,41.2\n");
        let (id1, bytes1) = built(&a);
        let (id2, bytes2) = built(&a.clone());
        assert_eq!(id1, id2);
        assert_eq!(bytes1, bytes2, "same inputs, same bytes");
        assert!(
            id1.starts_with('<')
                && id1.ends_with("@example.com>")
                && id1.len() == 32 + "<@example.com>".len(),
            "{id1}"
        );
        // Different figures, period or recipient: a different message.
        let (id3, _) = built(&outgoing("2026-W47", &["lead@example.com"], "nps,39.0\n"));
        let (id4, _) = built(&outgoing("2026-W48", &["lead@example.com"], "nps,41.2\n"));
        let (id5, _) = built(&outgoing("2026-W47", &["other@example.com"], "nps,41.2\n"));
        assert!(id1 != id3 && id1 != id4 && id1 != id5 && id3 != id4);
        // Presentation only (the "generated at" line): the same report.
        let mut b = a.clone();
        b.parts
            .text
            .push_str("\nGenerated 2026-11-30T07:00:00Z by scorecard.\n");
        assert_eq!(content_hash(&a), content_hash(&b));
        // A forced resend gets its own id.
        let from: Mailbox = "scorecard@example.com".parse().unwrap();
        let h = content_hash(&a);
        assert_ne!(
            message_id("weekly", "2026-W47", "lead@example.com", &h, 0, &from),
            message_id("weekly", "2026-W47", "lead@example.com", &h, 1, &from)
        );
    }

    #[test]
    fn list_ids_are_ascii_dot_atoms() {
        let from: Mailbox = "Scorecard <scorecard@example.com>".parse().unwrap();
        assert_eq!(
            list_id("Weekly CRM scorecard region=Île-de-France", &from),
            "\"Weekly CRM scorecard region=Ile-de-France\" <weekly-crm-scorecard-region-ile-de-france.example.com>"
        );
        assert_eq!(list_id("€€", &from), "\"\" <scorecard.example.com>");
        assert_eq!(
            list_id("São Paulo / München", &from),
            "\"Sao Paulo / Munchen\" <sao-paulo-munchen.example.com>"
        );
    }

    #[test]
    fn a_multi_address_entry_is_one_message_to_all() {
        let o = outgoing("2026-W47", &["a@example.com", "B <b@example.org>"], "x\n");
        assert_eq!(recipient_key(&o.recipient), "a@example.com,b@example.org");
        let (_, bytes) = built(&o);
        assert_eq!(
            header(&bytes, "To").as_deref(),
            Some("a@example.com, B <b@example.org>")
        );
    }
}
