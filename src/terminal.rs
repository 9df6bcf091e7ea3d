//! Tables for the terminal (`scorecard show`, `scorecard kpis`): they fit the
//! terminal's width by wrapping cells at spaces and, when that is not enough,
//! dropping the least important columns, never cutting a word; colour only on
//! a terminal (or with `--color always`), never with `NO_COLOR`; and a closed
//! pipe (`scorecard kpis | head -1`) ends the command quietly.
use std::io::{IsTerminal, Write};

pub use crate::cli::ColorChoice;

/// How the terminal is written to.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// Columns to fit in; None: no limit (output to a file or pipe without `COLUMNS`).
    pub width: Option<usize>,
    pub color: bool,
}

impl Terminal {
    /// From the flag, the environment (`NO_COLOR`, `COLUMNS`) and whether
    /// stdout is a terminal.
    pub fn detect(choice: ColorChoice, no_color: bool, columns: Option<&str>) -> Terminal {
        let tty = std::io::stdout().is_terminal();
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        let width = columns
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w > 0)
            .or_else(|| tty.then(terminal_width).flatten());
        Terminal { width, color }
    }
}

/// The width of the terminal on stdout, from the `TIOCGWINSZ` ioctl.
#[cfg(unix)]
fn terminal_width() -> Option<usize> {
    #[repr(C)]
    struct WinSize {
        rows: u16,
        cols: u16,
        x: u16,
        y: u16,
    }
    extern "C" {
        fn ioctl(fd: std::ffi::c_int, request: std::ffi::c_ulong, ...) -> std::ffi::c_int;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const TIOCGWINSZ: std::ffi::c_ulong = 0x5413;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const TIOCGWINSZ: std::ffi::c_ulong = 0x4008_7468;
    let mut ws = WinSize {
        rows: 0,
        cols: 0,
        x: 0,
        y: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` into the pointer given.
    let r = unsafe { ioctl(1, TIOCGWINSZ, &mut ws as *mut WinSize) };
    (r == 0 && ws.cols > 0).then_some(ws.cols as usize)
}

#[cfg(not(unix))]
fn terminal_width() -> Option<usize> {
    None
}

/// Colours of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    #[default]
    Plain,
    Good,
    Bad,
    Warn,
    Dim,
}

impl Tone {
    /// From a view model tone ("good" / "bad" / "flat") or status.
    pub fn of(name: &str) -> Tone {
        match name {
            "good" | "on_track" => Tone::Good,
            "bad" | "off_track" => Tone::Bad,
            "at_risk" => Tone::Warn,
            "flat" | "no_target" | "no_data" => Tone::Dim,
            _ => Tone::Plain,
        }
    }

    fn code(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Good => Some("32"),
            Tone::Bad => Some("31"),
            Tone::Warn => Some("33"),
            Tone::Dim => Some("2"),
        }
    }
}

/// A column: its header, whether its cells may wrap at spaces, and its
/// importance (the least important goes first when the table is too wide).
pub struct Column {
    pub header: &'static str,
    pub wrap: bool,
    pub importance: u8,
    pub right: bool,
}

impl Column {
    /// A column: its header, whether its cells may wrap at spaces, how
    /// important it is (the least important go first when the terminal is
    /// narrow) and whether it is right-aligned (figures).
    pub fn new(header: &'static str, wrap: bool, importance: u8, right: bool) -> Column {
        Column {
            header,
            wrap,
            importance,
            right,
        }
    }
}

pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<(String, Tone)>>,
}

fn width_of(s: &str) -> usize {
    s.chars().count()
}

/// Splits a cell into lines of at most `w` characters at spaces; a word
/// longer than `w` stays whole (the layout never makes a column narrower
/// than its longest word).
fn wrap(text: &str, w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && width_of(&line) + 1 + width_of(word) > w {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

impl Table {
    /// The columns kept and their widths for a terminal `width` wide.
    fn layout(&self, width: Option<usize>) -> Vec<(usize, usize)> {
        let natural: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| width_of(&r[i].0))
                    .chain([width_of(self.columns[i].header)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let minimum: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                if !self.columns[i].wrap {
                    return natural[i];
                }
                self.rows
                    .iter()
                    .flat_map(|r| r[i].0.split_whitespace().map(width_of))
                    .chain(self.columns[i].header.split_whitespace().map(width_of))
                    .max()
                    .unwrap_or(0)
                    .max(natural[i].min(12))
            })
            .collect();
        // Columns empty in every row say nothing: leave them out.
        let mut kept: Vec<usize> = (0..self.columns.len())
            .filter(|i| self.rows.iter().any(|r| !r[*i].0.is_empty()))
            .collect();
        let need = |kept: &[usize], w: &[usize]| -> usize {
            kept.iter().map(|i| w[*i]).sum::<usize>() + 2 * kept.len().saturating_sub(1)
        };
        let Some(limit) = width else {
            return kept.iter().map(|i| (*i, natural[*i])).collect();
        };
        while kept.len() > 1 && need(&kept, &minimum) > limit {
            let drop = kept
                .iter()
                .enumerate()
                .min_by_key(|(pos, i)| (self.columns[**i].importance, usize::MAX - pos))
                .map(|(pos, _)| pos)
                .expect("a column");
            kept.remove(drop);
        }
        // Start at the minimum and give the room left to the wrapped columns.
        let mut widths: Vec<usize> = kept.iter().map(|i| minimum[*i]).collect();
        let mut room = limit.saturating_sub(need(&kept, &minimum));
        while room > 0 {
            let mut grew = false;
            for (k, i) in kept.iter().enumerate() {
                if room > 0 && widths[k] < natural[*i] {
                    widths[k] += 1;
                    room -= 1;
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        kept.into_iter().zip(widths).collect()
    }

    /// The table as text: header, rule, rows; cells wrapped, colours when asked.
    pub fn render(&self, term: Terminal) -> String {
        let layout = self.layout(term.width);
        let paint = |s: String, tone: Tone, bold: bool| -> String {
            if !term.color {
                return s;
            }
            match (bold, tone.code()) {
                (true, _) => format!("\x1b[1m{s}\x1b[0m"),
                (false, Some(c)) if !s.trim().is_empty() => format!("\x1b[{c}m{s}\x1b[0m"),
                _ => s,
            }
        };
        let mut out = String::new();
        let line_of = |cells: Vec<(Vec<String>, Tone)>, bold: bool, out: &mut String| {
            let height = cells.iter().map(|(l, _)| l.len()).max().unwrap_or(1);
            for k in 0..height {
                let mut parts = Vec::new();
                for ((lines, tone), (i, w)) in cells.iter().zip(&layout) {
                    let text = lines.get(k).cloned().unwrap_or_default();
                    let pad = w.saturating_sub(width_of(&text));
                    let cell = if self.columns[*i].right {
                        format!("{}{text}", " ".repeat(pad))
                    } else {
                        format!("{text}{}", " ".repeat(pad))
                    };
                    parts.push(paint(cell, *tone, bold));
                }
                out.push_str(parts.join("  ").trim_end());
                out.push('\n');
            }
        };
        let header: Vec<(Vec<String>, Tone)> = layout
            .iter()
            .map(|(i, w)| (wrap(self.columns[*i].header, *w), Tone::Plain))
            .collect();
        line_of(header, true, &mut out);
        out.push_str(
            &layout
                .iter()
                .map(|(_, w)| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("  "),
        );
        out.push('\n');
        for row in &self.rows {
            let cells = layout
                .iter()
                .map(|(i, w)| {
                    let (text, tone) = &row[*i];
                    let lines = if self.columns[*i].wrap {
                        wrap(text, *w)
                    } else {
                        vec![text.clone()]
                    };
                    (lines, *tone)
                })
                .collect();
            line_of(cells, false, &mut out);
        }
        out
    }

    /// The headers of the columns left out at this width (to say so).
    pub fn dropped(&self, term: Terminal) -> Vec<&'static str> {
        let kept: Vec<usize> = self
            .layout(term.width)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        (0..self.columns.len())
            .filter(|i| !kept.contains(i) && self.rows.iter().any(|r| !r[*i].0.is_empty()))
            .map(|i| self.columns[i].header)
            .collect()
    }
}

/// A paragraph wrapped at spaces to the terminal's width, with a final newline.
pub fn paragraph(text: &str, term: Terminal) -> String {
    let lines = match term.width {
        Some(w) => wrap(text, w),
        None => vec![text.to_string()],
    };
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Writes to stdout; a reader that went away (`| head -1`) is not an error.
pub fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let col = |header, wrap, importance| Column {
            header,
            wrap,
            importance,
            right: false,
        };
        Table {
            columns: vec![
                col("KPI", true, 9),
                col("value", false, 8),
                col("note", true, 1),
                col("status", false, 5),
            ],
            rows: vec![
                vec![
                    ("First response within SLA".into(), Tone::Plain),
                    ("50.9%".into(), Tone::Plain),
                    ("fell six weeks running".into(), Tone::Plain),
                    ("Off track".into(), Tone::Bad),
                ],
                vec![
                    ("NPS".into(), Tone::Plain),
                    ("22.9".into(), Tone::Plain),
                    ("".into(), Tone::Plain),
                    ("At risk".into(), Tone::Warn),
                ],
            ],
        }
    }

    #[test]
    fn wide_enough_nothing_wraps() {
        let t = table();
        let text = t.render(Terminal {
            width: None,
            color: false,
        });
        let first = text.lines().nth(2).unwrap();
        assert!(first
            .starts_with("First response within SLA  50.9%  fell six weeks running  Off track"));
    }

    #[test]
    fn narrow_tables_wrap_at_spaces_then_drop_columns_never_cut_words() {
        let t = table();
        for width in [60, 40, 30, 20] {
            let term = Terminal {
                width: Some(width),
                color: false,
            };
            let text = t.render(term);
            for line in text.lines() {
                assert!(
                    line.chars().count() <= width.max(25 + 2 + 5),
                    "{width}: {line:?}\n{text}"
                );
            }
            for word in ["First", "response", "within", "SLA", "50.9%"] {
                assert!(
                    text.split_whitespace().any(|w| w == word),
                    "{word} cut at {width}:\n{text}"
                );
            }
            if width <= 40 {
                assert!(t.dropped(term).contains(&"note"), "{width}");
            }
        }
        let at40 = t.render(Terminal {
            width: Some(40),
            color: false,
        });
        assert!(!at40.contains("fell"), "{at40}");
        assert!(at40.contains("Off track"), "{at40}");
    }

    #[test]
    fn colour_only_when_asked() {
        let t = table();
        let plain = t.render(Terminal {
            width: None,
            color: false,
        });
        assert!(!plain.contains('\x1b'));
        let coloured = t.render(Terminal {
            width: None,
            color: true,
        });
        assert!(coloured.contains("\x1b[31mOff track"), "{coloured:?}");
        assert!(coloured.contains("\x1b[33mAt risk"));
        assert!(!Terminal::detect(ColorChoice::Never, false, Some("80")).color);
        assert!(Terminal::detect(ColorChoice::Always, true, None).color);
        // The test's stdout is not a terminal: auto means no colour.
        assert!(!Terminal::detect(ColorChoice::Auto, false, None).color);
        assert_eq!(
            Terminal::detect(ColorChoice::Auto, false, Some("72")).width,
            Some(72)
        );
    }
}
