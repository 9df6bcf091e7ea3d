//! The transports, one enum chosen by config (crates.io's habit): SMTP,
//! sendmail, and a file outbox of `.eml` files (the demo and `--dry-run`).
//!
//! SMTP speaks through lettre's client, `SmtpConnection`, holding one
//! connection open across every message of a run. The connection is set up
//! exactly as `SmtpTransport::relay` / `starttls_relay` / `builder_dangerous`
//! would: rustls with the webpki roots, implicit TLS or required STARTTLS,
//! then AUTH PLAIN or LOGIN. lettre's `SmtpTransport`, pooled (`pool`
//! feature) or not, does not serve here: it runs the transaction inside
//! `SmtpConnection::send`, which drops the connection on any negative reply
//! and says neither which command was refused nor which recipient. The
//! ledger needs both: a 5xx to `MAIL FROM` stops the run (the sender is
//! wrong for every message) while a 5xx to `RCPT TO` fails one message and
//! names its address, and after a refused recipient the session goes on
//! (RSET) instead of reconnecting. So the transaction's four commands are
//! issued here, through lettre's own command types.
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Noop, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::{SendmailTransport, Transport};

use super::error::{connect_stage, Cause, DeliverError, Stage};
use crate::config::{Config, TlsMode, TransportKind};

pub enum Sender {
    Smtp(Box<SmtpSender>),
    Sendmail(Sendmail),
    File(Outbox),
}

impl Sender {
    /// The configured transport. The SMTP password is the one the
    /// configuration read when it was checked.
    pub fn new(config: &Config) -> Result<Sender, DeliverError> {
        Ok(match config.email.transport {
            TransportKind::File => Sender::File(Outbox {
                dir: config.email.outbox_dir.clone(),
            }),
            TransportKind::Sendmail => {
                let command = config
                    .email
                    .sendmail_command
                    .clone()
                    .unwrap_or_else(|| "sendmail".into());
                Sender::Sendmail(Sendmail {
                    transport: SendmailTransport::new_with_command(&command),
                    command,
                })
            }
            TransportKind::Smtp => Sender::Smtp(Box::new(SmtpSender::new(config)?)),
        })
    }

    /// Delivers one formatted message; the file outbox returns the path it
    /// wrote. `before_data` runs at the last moment nothing of the message
    /// has left yet (SMTP: before the DATA command; sendmail and the file
    /// outbox: before the hand-over): the ledger records the attempt as
    /// `in_flight` there, so that a process killed from then on is noticed.
    pub fn send(
        &mut self,
        from: &Address,
        to: &[Address],
        message_id: &str,
        bytes: &[u8],
        before_data: &mut dyn FnMut() -> Result<(), DeliverError>,
    ) -> Result<Option<PathBuf>, DeliverError> {
        match self {
            Sender::Smtp(s) => s.send(from, to, bytes, before_data).map(|()| None),
            Sender::Sendmail(s) => {
                before_data()?;
                s.send(from, to, bytes).map(|()| None)
            }
            Sender::File(o) => {
                before_data()?;
                o.write(message_id, bytes).map(Some)
            }
        }
    }

    /// Connects (or looks) and says what it found, sending nothing.
    pub fn check(&mut self) -> Result<String, DeliverError> {
        match self {
            Sender::Smtp(s) => s.check(),
            Sender::Sendmail(s) => s.check(),
            Sender::File(o) => o.check(),
        }
    }

    /// Ends the SMTP session politely (QUIT).
    pub fn close(&mut self) {
        if let Sender::Smtp(s) = self {
            s.close();
        }
    }

    /// SMTP connections opened so far (1 for a run that reused its connection).
    pub fn connections(&self) -> usize {
        match self {
            Sender::Smtp(s) => s.connections,
            _ => 0,
        }
    }
}

// ------------------------------------------------------------------ SMTP

/// What errors need to know about the server. Holds the password only to
/// scrub it from error texts.
struct Endpoint {
    host: String,
    port: u16,
    implicit_tls: bool,
    password_env: Option<String>,
    timeout: Duration,
    /// How long the reply to the end of a message may take (RFC 5321
    /// section 4.5.3.2.6: 10 minutes).
    final_timeout: Duration,
    secret: Option<String>,
}

impl Endpoint {
    fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn error(&self, stage: Stage, e: &lettre::transport::smtp::Error) -> DeliverError {
        self.error_from(stage, Cause::from_smtp(e, self.secret.as_deref()))
    }

    fn error_from(&self, stage: Stage, cause: Cause) -> DeliverError {
        let stage = if stage == Stage::Connect {
            connect_stage(self.implicit_tls, &cause)
        } else {
            stage
        };
        DeliverError::Smtp {
            server: self.server(),
            stage,
            cause,
            password_env: self.password_env.clone(),
            timeout_secs: self.timeout.as_secs(),
            implicit_tls: self.implicit_tls,
        }
    }
}

pub struct SmtpSender {
    endpoint: Endpoint,
    mode: TlsMode,
    username: Option<String>,
    hello: ClientId,
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    conn: Option<SmtpConnection>,
    connections: usize,
}

impl SmtpSender {
    fn new(config: &Config) -> Result<SmtpSender, DeliverError> {
        let smtp = config
            .email
            .smtp
            .as_ref()
            .ok_or(DeliverError::SmtpNotConfigured)?;
        let secret = match (&smtp.username, &smtp.password) {
            (Some(_), Some(password)) => Some(password.expose().to_string()),
            (Some(_), None) => {
                return Err(DeliverError::MissingPassword {
                    var: smtp
                        .password_env
                        .clone()
                        .unwrap_or_else(|| "(password_env is not set)".into()),
                })
            }
            (None, _) => None,
        };
        let endpoint = Endpoint {
            host: smtp.host.clone(),
            port: smtp.port,
            implicit_tls: smtp.tls == TlsMode::Tls,
            password_env: smtp.password_env.clone(),
            timeout: smtp.timeout,
            final_timeout: smtp.final_reply_timeout,
            secret: secret.clone(),
        };
        let tls = match smtp.tls {
            TlsMode::None => None,
            TlsMode::Starttls | TlsMode::Tls => Some(
                TlsParameters::new(smtp.host.clone())
                    .map_err(|e| endpoint.error(Stage::Tls, &e))?,
            ),
        };
        let credentials = match (&smtp.username, secret) {
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password)),
            _ => None,
        };
        Ok(SmtpSender {
            endpoint,
            mode: smtp.tls,
            username: smtp.username.clone(),
            hello: ClientId::default(),
            tls,
            credentials,
            conn: None,
            connections: 0,
        })
    }

    /// Connects, upgrades to TLS and logs in.
    fn open(&mut self) -> Result<SmtpConnection, DeliverError> {
        let ep = &self.endpoint;
        let wrapper = if self.mode == TlsMode::Tls {
            self.tls.as_ref()
        } else {
            None
        };
        let mut conn = SmtpConnection::connect(
            (ep.host.as_str(), ep.port),
            Some(ep.timeout),
            &self.hello,
            wrapper,
            None,
        )
        .map_err(|e| ep.error(Stage::Connect, &e))?;
        if let (TlsMode::Starttls, Some(params)) = (self.mode, self.tls.as_ref()) {
            if let Err(e) = conn.starttls(params, &self.hello) {
                conn.abort();
                return Err(ep.error(Stage::Tls, &e));
            }
        }
        if let Some(credentials) = &self.credentials {
            if let Err(e) = conn.auth(DEFAULT_MECHANISMS, credentials) {
                conn.abort();
                return Err(ep.error(Stage::Auth, &e));
            }
        }
        self.connections += 1;
        Ok(conn)
    }

    fn send(
        &mut self,
        from: &Address,
        to: &[Address],
        bytes: &[u8],
        before_data: &mut dyn FnMut() -> Result<(), DeliverError>,
    ) -> Result<(), DeliverError> {
        let mut fresh = false;
        if self.conn.as_ref().is_none_or(SmtpConnection::has_broken) {
            self.conn = Some(self.open()?);
            fresh = true;
        }
        loop {
            let conn = self.conn.as_mut().expect("connected above");
            let Err(e) = transaction(conn, &self.endpoint, from, to, bytes, before_data) else {
                return Ok(());
            };
            // After a refused recipient or DATA the session can go on (RSET);
            // after anything else, start the next message on a new connection.
            let reusable = matches!(&e, DeliverError::Smtp { stage: Stage::RcptTo(_) | Stage::Data, cause: Cause::Reply { code, .. }, .. } if *code != 421)
                && conn.command(Rset).is_ok();
            if !reusable {
                if let Some(mut c) = self.conn.take() {
                    c.abort();
                }
            }
            // A kept connection the server closed while idle fails at MAIL
            // FROM without a reply (or with 421): reconnect once and go on.
            let idle_closed = !fresh
                && matches!(&e, DeliverError::Smtp { stage: Stage::MailFrom(_), cause, .. }
                    if !matches!(cause, Cause::Reply { code, .. } if *code != 421));
            if !idle_closed {
                return Err(e);
            }
            self.conn = Some(self.open()?);
            fresh = true;
        }
    }

    fn check(&mut self) -> Result<String, DeliverError> {
        let mut conn = self.open()?;
        let noop = conn.command(Noop);
        let _ = conn.quit();
        noop.map_err(|e| self.endpoint.error(Stage::Noop, &e))?;
        let mut how = Vec::new();
        match self.mode {
            TlsMode::Starttls => how.push("starttls".to_string()),
            TlsMode::Tls => how.push("implicit tls".to_string()),
            TlsMode::None => {}
        }
        if let Some(user) = &self.username {
            how.push(format!("logged in as {user}"));
        }
        let how = if how.is_empty() {
            String::new()
        } else {
            format!(" ({})", how.join(", "))
        };
        Ok(format!(
            "smtp {}{how}: connected, server said hello (nothing sent)",
            self.endpoint.server()
        ))
    }

    fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if !conn.has_broken() {
                let _ = conn.quit();
            }
        }
    }
}

/// One SMTP transaction: MAIL FROM, RCPT TO each address, DATA, the message.
fn transaction(
    conn: &mut SmtpConnection,
    ep: &Endpoint,
    from: &Address,
    to: &[Address],
    bytes: &[u8],
    before_data: &mut dyn FnMut() -> Result<(), DeliverError>,
) -> Result<(), DeliverError> {
    let mut params = Vec::new();
    let info = conn.server_info();
    let ascii = |a: &Address| AsRef::<str>::as_ref(a).is_ascii();
    if (!ascii(from) || !to.iter().all(ascii)) && info.supports_feature(Extension::SmtpUtfEight) {
        params.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() && info.supports_feature(Extension::EightBitMime) {
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(Some(from.clone()), params))
        .map_err(|e| ep.error(Stage::MailFrom(from.to_string()), &e))?;
    for address in to {
        conn.command(Rcpt::new(address.clone(), vec![]))
            .map_err(|e| ep.error(Stage::RcptTo(address.to_string()), &e))?;
    }
    before_data()?;
    conn.command(Data).map_err(|e| ep.error(Stage::Data, &e))?;
    // The body goes out with the RFC's final-reply timeout; lettre writes
    // each chunk, then `.`, then reads the reply. The empty chunk after the
    // message is asked for only once the whole body is written: from then
    // on a missing reply means the server may have the message.
    let set_timeout = |conn: &mut SmtpConnection, t: Duration| {
        conn.set_timeout(Some(t)).map_err(|e| {
            ep.error_from(
                Stage::Body,
                Cause::Io {
                    kind: e.kind(),
                    text: e.to_string(),
                },
            )
        })
    };
    set_timeout(conn, ep.final_timeout)?;
    let written = std::cell::Cell::new(false);
    let mut parts = 0;
    let chunks = std::iter::from_fn(|| {
        parts += 1;
        match parts {
            1 => Some(bytes),
            2 => {
                written.set(true);
                Some(&b""[..])
            }
            _ => None,
        }
    });
    match conn.message_iter(chunks) {
        Ok(_) => {}
        Err(e) if written.get() => {
            let mut err = ep.error(Stage::FinalReply, &e);
            if let DeliverError::Smtp { timeout_secs, .. } = &mut err {
                *timeout_secs = ep.final_timeout.as_secs();
            }
            return Err(err);
        }
        Err(e) => return Err(ep.error(Stage::Body, &e)),
    }
    set_timeout(conn, ep.timeout)?;
    Ok(())
}

// -------------------------------------------------------------- sendmail

pub struct Sendmail {
    command: String,
    transport: SendmailTransport,
}

impl Sendmail {
    fn send(&mut self, from: &Address, to: &[Address], bytes: &[u8]) -> Result<(), DeliverError> {
        let envelope = Envelope::new(Some(from.clone()), to.to_vec()).map_err(|e| {
            DeliverError::SendmailFailed {
                command: self.command.clone(),
                detail: e.to_string(),
            }
        })?;
        self.transport.send_raw(&envelope, bytes).map_err(|e| {
            let source = std::error::Error::source(&e);
            match source.and_then(|s| s.downcast_ref::<std::io::Error>()) {
                Some(io)
                    if matches!(
                        io.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                    ) =>
                {
                    DeliverError::SendmailMissing {
                        command: self.command.clone(),
                        reason: io.to_string(),
                    }
                }
                _ => {
                    let detail = source
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| e.to_string());
                    let detail = detail.trim();
                    let detail = if detail.is_empty() {
                        "it exited with an error and said nothing"
                    } else {
                        detail
                    };
                    DeliverError::SendmailFailed {
                        command: self.command.clone(),
                        detail: detail.to_string(),
                    }
                }
            }
        })
    }

    fn check(&mut self) -> Result<String, DeliverError> {
        let found =
            find_command(&self.command, std::env::var_os("PATH").as_deref()).ok_or_else(|| {
                DeliverError::SendmailMissing {
                    command: self.command.clone(),
                    reason: "not found or not executable".into(),
                }
            })?;
        Ok(format!(
            "sendmail {}: found (nothing sent)",
            found.display()
        ))
    }
}

/// The executable a command names: a path as is, a bare name through PATH.
fn find_command(command: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let is_exec = |p: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            p.is_file()
        }
    };
    if command.contains(std::path::MAIN_SEPARATOR) || command.contains('/') {
        let p = PathBuf::from(command);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(command))
        .find(|p| is_exec(p))
}

// ---------------------------------------------------------- file outbox

pub struct Outbox {
    pub dir: PathBuf,
}

/// `<abc@example.com>` → `abc@example.com.eml`
pub fn eml_name(message_id: &str) -> String {
    let id: String = message_id
        .trim_matches(|c| c == '<' || c == '>')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{id}.eml")
}

impl Outbox {
    fn fail(&self, e: std::io::Error) -> DeliverError {
        DeliverError::Outbox {
            path: self.dir.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Writes the message whole or not at all (temporary file, then rename).
    pub fn write(&self, message_id: &str, bytes: &[u8]) -> Result<PathBuf, DeliverError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.fail(e))?;
        let path = self.dir.join(eml_name(message_id));
        let tmp = self.dir.join(format!(".{}.tmp", eml_name(message_id)));
        // Customer data: owner-only.
        crate::files::write(&tmp, bytes, crate::files::PRIVATE).map_err(|e| self.fail(e))?;
        std::fs::rename(&tmp, &path).map_err(|e| self.fail(e))?;
        Ok(path)
    }

    fn check(&self) -> Result<String, DeliverError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.fail(e))?;
        let probe = self
            .dir
            .join(format!(".scorecard-check-{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(|e| self.fail(e))?;
        let _ = std::fs::remove_file(&probe);
        Ok(format!(
            "file outbox {}: writable (nothing sent)",
            self.dir.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eml_names_are_safe_file_names() {
        assert_eq!(
            eml_name("<0123abcd@example.com>"),
            "0123abcd@example.com.eml"
        );
        assert_eq!(eml_name("<a/b\\c:d@x>"), "a_b_c_d@x.eml");
    }

    #[test]
    fn commands_are_found_by_path_or_through_path() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("fake-sendmail");
        std::fs::write(&exe, "#!/bin/sh\nexit 0\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(find_command(exe.to_str().unwrap(), None), Some(exe.clone()));
        assert_eq!(
            find_command("fake-sendmail", Some(dir.path().as_os_str())),
            Some(exe)
        );
        assert_eq!(
            find_command("no-such-sendmail", Some(dir.path().as_os_str())),
            None
        );
        assert_eq!(find_command("/no/such/sendmail", None), None);
    }

    #[test]
    fn the_outbox_writes_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox {
            dir: dir.path().join("outbox"),
        };
        assert!(o.check().unwrap().ends_with("writable (nothing sent)"));
        let p = o
            .write("<x@example.com>", b"Subject: hi\r\n\r\nbody\r\n")
            .unwrap();
        assert_eq!(p, dir.path().join("outbox/x@example.com.eml"));
        assert_eq!(
            std::fs::read_dir(dir.path().join("outbox"))
                .unwrap()
                .count(),
            1,
            "no temporary file left"
        );
    }
}
