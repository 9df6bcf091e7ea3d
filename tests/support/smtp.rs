//! Real SMTP servers on 127.0.0.1 for the delivery tests.
//!
//! [`TestServer`] is a small SMTP server written for the tests (RFC 5321's
//! EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) that
//! records every message it accepts and follows a [`Script`]: answer 451 to
//! the first N RCPT or DATA commands, or 550 to some recipients; take a
//! message whole and then stall before the final reply, drop the
//! connection, answer 451, or answer slowly. It speaks
//! plain SMTP (no STARTTLS), which config allows to a loopback host with
//! tls = "none". It is hand-written rather than a crate because the SMTP
//! server crates pull a TLS stack (and aws-lc's C build) into the test tree,
//! and because the tests need a server that misbehaves on purpose.
//! [`AuthServer`] offers AUTH and refuses the credentials (535), recording
//! what the client sent.
//!
//! The servers run on their own threads until the test binary exits.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// How the server misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Answer "451 4.3.0" to this many RCPT commands, then accept.
    pub defer_rcpt: usize,
    /// Answer "451 4.3.0" to this many DATA commands, then accept.
    pub defer_data: usize,
    /// Answer "550 5.1.1" to RCPT for these addresses.
    pub reject: Vec<String>,
    /// Take this many messages whole, then never answer the final `.`
    /// (the session stays open until the client leaves).
    pub stall_final: usize,
    /// Take this many messages whole, then close the connection without
    /// answering the final `.`.
    pub drop_after_data: usize,
    /// Answer "451 4.3.0" to the final `.` of this many messages.
    pub defer_final: usize,
    /// Wait this long before answering each final `.` (a slow server).
    pub slow_final: std::time::Duration,
}

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as transmitted (dot-unstuffed, CRLF line ends).
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    script: Script,
    received: Vec<Received>,
    /// Every message the server read whole, answered or not (what a real
    /// server may deliver even when its reply never reaches the client).
    taken: Vec<Received>,
    /// The messages a real server would deliver: accepted, or read whole
    /// and left unanswered (a stall, a dropped connection); not the ones
    /// refused with 451.
    kept: Vec<Received>,
    sessions: usize,
    rcpt_commands: usize,
    data_commands: usize,
}

pub struct TestServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl TestServer {
    /// Starts a server on a free port.
    pub fn start(script: Script) -> TestServer {
        Self::start_with(
            TcpListener::bind("127.0.0.1:0").expect("a free port"),
            script,
        )
    }

    /// Starts a server on the given port (for "the server is back").
    pub fn start_on(port: u16, script: Script) -> TestServer {
        Self::start_with(
            TcpListener::bind(("127.0.0.1", port)).expect("the port is free again"),
            script,
        )
    }

    fn start_with(listener: TcpListener, script: Script) -> TestServer {
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            script,
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve_session(stream, &state);
                });
            }
        });
        TestServer { port, state }
    }

    /// The messages answered with 250.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Every message read whole (after its final `.`), answered or not.
    pub fn taken(&self) -> Vec<Received> {
        self.state.lock().unwrap().taken.clone()
    }

    /// The messages a real server would deliver (accepted, or read whole
    /// and never answered), in order.
    pub fn kept(&self) -> Vec<Received> {
        self.state.lock().unwrap().kept.clone()
    }

    /// Changes how the server behaves from now on.
    pub fn set_script(&self, script: Script) {
        self.state.lock().unwrap().script = script;
    }

    /// SMTP sessions opened (one EHLO each).
    pub fn sessions(&self) -> usize {
        self.state.lock().unwrap().sessions
    }

    pub fn rcpt_commands(&self) -> usize {
        self.state.lock().unwrap().rcpt_commands
    }

    pub fn data_commands(&self) -> usize {
        self.state.lock().unwrap().data_commands
    }
}

/// The address inside `MAIL FROM:<a>` / `RCPT TO:<a>` (parameters after it
/// such as `SIZE=` or `BODY=8BITMIME` are ignored).
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// One SMTP session, command by command, until QUIT or the client leaves.
fn serve_session(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    stream.write_all(b"220 mx.test ESMTP\r\n")?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            state.lock().unwrap().sessions += 1;
            "250-mx.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n".into()
        } else if upper.starts_with("HELO") {
            state.lock().unwrap().sessions += 1;
            "250 mx.test\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            from = Some(address(&command[10..]));
            to.clear();
            "250 2.1.0 Ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = address(&command[8..]);
            let mut s = state.lock().unwrap();
            s.rcpt_commands += 1;
            if s.script.reject.contains(&rcpt) {
                format!("550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n")
            } else if s.script.defer_rcpt > 0 {
                s.script.defer_rcpt -= 1;
                "451 4.3.0 Temporary failure, try again later\r\n".into()
            } else {
                to.push(rcpt);
                "250 2.1.5 Ok\r\n".into()
            }
        } else if upper == "DATA" {
            let deferred = {
                let mut s = state.lock().unwrap();
                s.data_commands += 1;
                if s.script.defer_data > 0 {
                    s.script.defer_data -= 1;
                    true
                } else {
                    false
                }
            };
            if deferred {
                "451 4.3.0 Mail server temporarily rejected message\r\n".into()
            } else if from.is_none() || to.is_empty() {
                "503 5.5.1 Need MAIL and RCPT first\r\n".into()
            } else {
                stream.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let data = read_data(&mut reader)?;
                let message = Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                };
                let (fate, slow) = {
                    let mut s = state.lock().unwrap();
                    s.taken.push(message.clone());
                    let fate = if s.script.stall_final > 0 {
                        s.script.stall_final -= 1;
                        Final::Stall
                    } else if s.script.drop_after_data > 0 {
                        s.script.drop_after_data -= 1;
                        Final::Drop
                    } else if s.script.defer_final > 0 {
                        s.script.defer_final -= 1;
                        Final::Defer
                    } else {
                        Final::Accept
                    };
                    if !matches!(fate, Final::Defer) {
                        s.kept.push(message.clone());
                    }
                    (fate, s.script.slow_final)
                };
                std::thread::sleep(slow);
                match fate {
                    Final::Stall => {
                        // Never answer; wait for the client to give up.
                        let mut rest = Vec::new();
                        let _ = std::io::Read::read_to_end(&mut reader, &mut rest);
                        return Ok(());
                    }
                    Final::Drop => {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                        return Ok(());
                    }
                    Final::Defer => "451 4.3.0 Temporary failure, try again later\r\n".into(),
                    Final::Accept => {
                        state.lock().unwrap().received.push(message);
                        "250 2.0.0 Ok: queued\r\n".into()
                    }
                }
            }
        } else if upper == "RSET" {
            from = None;
            to.clear();
            "250 2.0.0 Ok\r\n".into()
        } else if upper == "NOOP" {
            "250 2.0.0 Ok\r\n".into()
        } else if upper == "QUIT" {
            stream.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else {
            "502 5.5.2 Command not recognized\r\n".into()
        };
        stream.write_all(reply.as_bytes())?;
    }
}

/// What the server does with a message it has read whole.
enum Final {
    Accept,
    Defer,
    Stall,
    Drop,
}

/// Reads a DATA body up to the lone `.` line, undoing dot-stuffing.
fn read_data(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let body = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(body);
    }
}

/// A port nothing listens on (bound, then released).
/// An `[email]` section that sends over SMTP to a test server on
/// 127.0.0.1:`port` (plain SMTP, 2 attempts 10 ms apart, a 5 s timeout, a
/// final-reply timeout of `final_secs`), to one recipient for the whole
/// business; `more` follows it (more `[[email.recipients]]`).
pub fn email_section(port: u16, final_secs: u64, more: &str) -> String {
    format!(
        r#"
[email]
transport = "smtp"
from = "Scorecard <scorecard@example.com>"
max_attempts = 2
retry_delay_ms = 10
[email.smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
timeout_secs = 5
final_reply_timeout_secs = {final_secs}
[[email.recipients]]
to = ["leadership@example.com"]
{more}"#
    )
}

/// A minimal server that offers AUTH PLAIN LOGIN and refuses every
/// credential with 535, recording the AUTH lines it was sent.
pub struct AuthServer {
    pub port: u16,
    auth_lines: Arc<Mutex<Vec<String>>>,
}

impl AuthServer {
    pub fn start() -> AuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let auth_lines = Arc::new(Mutex::new(Vec::new()));
        let lines = auth_lines.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let _ = stream.write_all(b"220 auth.test ESMTP\r\n");
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    let command = line.trim_end().to_string();
                    line.clear();
                    let upper = command.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-auth.test\r\n250 AUTH PLAIN LOGIN\r\n"
                    } else if upper.starts_with("AUTH") {
                        lines.lock().unwrap().push(command);
                        b"535 5.7.8 Authentication credentials invalid\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = stream.write_all(b"221 2.0.0 Bye\r\n");
                        break;
                    } else {
                        b"503 5.5.1 Authenticate first\r\n"
                    };
                    if stream.write_all(reply).is_err() {
                        break;
                    }
                }
            }
        });
        AuthServer { port, auth_lines }
    }

    pub fn auth_lines(&self) -> Vec<String> {
        self.auth_lines.lock().unwrap().clone()
    }
}
