//! Rendering: the view model, Tera templates (built-ins compiled in, every
//! file of a user's `templates_dir` loaded, overriding a built-in by name),
//! Markdown, charts, and the
//! machine-readable kpis.json / kpis.csv. Runs no SQL.
pub mod charts;
pub mod data;
pub mod format;
pub mod index;
pub mod insights;
pub mod layout;
pub mod markdown;
pub mod notice;
pub mod period;
pub mod templates;
pub mod view;

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use tera::{Context, Tera};

use crate::error::Failure;
pub use index::{render_index, IndexPages};
pub use period::{render_period, PeriodReport, ScopeEmail};
use templates::UserTemplate;
pub use templates::BUILTIN_TEMPLATES;

const BUILTIN_PREFIX: &str = "__builtin/";

/// The default `[email] subject` is a configuration default (config reads
/// no stage after it).
pub use crate::config::DEFAULT_SUBJECT;

pub struct Renderer {
    tera: Tera,
    subject: String,
    /// The files of `templates_dir`, all loaded.
    user: Vec<UserTemplate>,
}

fn template_failure(e: &tera::Error) -> Failure {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    let msg = msg.trim_start_matches("error: ").trim_end();
    Failure::usage(format!(
        "template error: {msg}\nhint: fix the template, or remove it from templates_dir to use the built-in one"
    ))
}

impl Renderer {
    /// Built-ins under `__builtin/`; every file of `templates_dir` under its
    /// own name, so that a user's file wins by name and can include partials.
    pub fn new(templates_dir: Option<&Path>, subject: &str) -> Result<Renderer> {
        let mut tera = Tera::default();
        tera.autoescape_on([".html"]);
        crate::escape::register_filters(&mut tera);
        tera.set_fallback_prefixes([BUILTIN_PREFIX])
            .map_err(|e| template_failure(&e))?;
        let builtins: Vec<(String, &str)> = BUILTIN_TEMPLATES
            .iter()
            .map(|(n, t)| (format!("{BUILTIN_PREFIX}{n}"), *t))
            .collect();
        tera.add_raw_templates(builtins)
            .map_err(|e| template_failure(&e))?;
        let user = match templates_dir {
            Some(dir) => templates::read_dir(dir)?,
            None => Vec::new(),
        };
        tera.add_raw_templates(user.iter().map(|f| (f.name.as_str(), f.text.as_str())))
            .map_err(|e| template_failure(&e))?;
        // The subject is a template too; check it now rather than at send time.
        let mut check = Tera::default();
        check
            .add_raw_template("subject", subject)
            .map_err(|e| template_failure(&e))?;
        Ok(Renderer {
            tera,
            subject: subject.to_string(),
            user,
        })
    }

    /// The files of `templates_dir` that override no built-in template and
    /// that no rendered template includes, extends or takes a component
    /// from (`scorecard check` warns about each).
    pub fn unused_templates(&self) -> Vec<&Path> {
        templates::unused(&self.user)
            .into_iter()
            .map(|f| f.path.as_path())
            .collect()
    }

    /// Renders `name`; output past [`MAX_OUTPUT`] stops the rendering with
    /// an error naming the template (a loop in a user's template must not
    /// fill the disk or the mail server).
    pub fn render<T: Serialize>(&self, name: &str, model: &T) -> Result<String> {
        let ctx = Context::from_serialize(model).map_err(|e| template_failure(&e))?;
        let mut out = Capped {
            bytes: Vec::new(),
            over: false,
        };
        let result = self.tera.render_to(name, &ctx, &mut out);
        if out.over {
            let which = self
                .user
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.path.display().to_string())
                .unwrap_or_else(|| format!("the built-in {name}"));
            return Err(Failure::usage(format!(
                "template {name} ({which}) renders more than {} MB; a page that large is a template bug\nhint: check its loops, or remove it from templates_dir to use the built-in one",
                MAX_OUTPUT / 1_000_000
            ))
            .into());
        }
        result.map_err(|e| template_failure(&e))?;
        Ok(String::from_utf8(out.bytes).expect("Tera writes UTF-8"))
    }

    pub fn subject<T: Serialize>(&self, model: &T) -> Result<String> {
        let ctx = Context::from_serialize(model).map_err(|e| template_failure(&e))?;
        let s = Tera::one_off(&self.subject, &ctx, false).map_err(|e| template_failure(&e))?;
        // One line of plain text whatever the values hold.
        Ok(crate::escape::text(&s)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "))
    }
}

/// The most a template may render: 10 MB per file.
pub const MAX_OUTPUT: usize = 10_000_000;

/// A writer that refuses to grow past [`MAX_OUTPUT`].
struct Capped {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT {
            self.over = true;
            return Err(std::io::Error::other("rendered output over the cap"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the email of one scorecard needs, rendered before any send.
#[derive(Debug, Clone)]
pub struct EmailParts {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// (content id, PNG bytes, alt text)
    pub images: Vec<(String, Vec<u8>, String)>,
    /// The mailing list this email belongs to, for `List-Id` (RFC 2919):
    /// the title, and the segment for a segment's email.
    pub list_name: String,
}

/// Renders the three formats of one scorecard (whole business or a segment).
pub struct Rendered {
    pub html: String,
    pub markdown: String,
    /// Only when asked for: the inlined email HTML and its PNG charts cost
    /// more than the page itself, and most segments have no recipient.
    pub email: Option<EmailParts>,
}

pub fn render_scorecard(
    renderer: &Renderer,
    input: &view::ReportInput,
    segment: Option<&str>,
    root: &str,
    with_email: bool,
) -> Result<Rendered> {
    let model = view::build(input, segment, root)?;
    let html = renderer.render("scorecard.html", &model)?;
    let markdown = renderer.render("scorecard.md", &model)?;
    if !with_email {
        return Ok(Rendered {
            html,
            markdown,
            email: None,
        });
    }
    let email_html = renderer.render("email.html", &model)?;
    // The @media blocks (dark mode) cannot be inlined: they stay in a <style>.
    let inliner = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .keep_at_rules(true)
        .build();
    let email_html = inliner
        .inline(&email_html)
        .map_err(|e| anyhow::anyhow!("cannot inline the email CSS: {e}"))?;
    let mut images = Vec::new();
    for id in view::TRENDS {
        if let Some(c) = model.charts.iter().find(|c| c.id == id) {
            let r = input
                .rows
                .iter()
                .find(|r| r.info.id == id && r.segment == segment.unwrap_or(""))
                .expect("chart of a row");
            let labels: Vec<String> = input.history.iter().map(|p| view::axis_label(*p)).collect();
            let t = view::trend(r, &labels, input.currency, input.period);
            images.push((c.cid.clone(), charts::trend_png(&t)?, c.alt.clone()));
        }
    }
    let subject = renderer.subject(&model)?;
    Ok(Rendered {
        html,
        markdown: markdown.clone(),
        email: Some(EmailParts {
            subject,
            text: markdown,
            html: email_html,
            images,
            list_name: match segment {
                Some(s) => format!("{} {s}", input.title),
                None => input.title.to_string(),
            },
        }),
    })
}
