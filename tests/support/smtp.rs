//! Real SMTP servers on 127.0.0.1 for the delivery tests.
//!
//! [`TestServer`] is mailin-embedded (a complete SMTP server) with a handler
//! that records every message it accepts and follows a [`Script`]: answer
//! 451 to the first N RCPT or DATA commands, or 550 to some recipients.
//! It speaks plain SMTP (no STARTTLS), which config allows to a loopback
//! host with tls = "none". [`AuthServer`] is a
//! minimal hand-written server for what mailin cannot do without TLS:
//! offering AUTH and refusing the credentials (535), recording what the
//! client sent.
//!
//! The servers run on their own threads until the test binary exits.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};

use mailin_embedded::response::OK;
use mailin_embedded::{Handler, Response, Server, SslConfig};

/// How the server misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Answer "451 4.3.0" to this many RCPT commands, then accept.
    pub defer_rcpt: usize,
    /// Answer "451 4.3.0" to this many DATA commands, then accept.
    pub defer_data: usize,
    /// Answer "550 5.1.1" to RCPT for these addresses.
    pub reject: Vec<String>,
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
    sessions: usize,
    rcpt_commands: usize,
    data_commands: usize,
}

#[derive(Clone)]
struct Recorder {
    state: Arc<Mutex<State>>,
    current: Option<Received>,
}

impl Handler for Recorder {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        self.state.lock().unwrap().sessions += 1;
        OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let to = to.trim_matches(|c| c == '<' || c == '>');
        let mut s = self.state.lock().unwrap();
        s.rcpt_commands += 1;
        if s.script.reject.iter().any(|r| r == to) {
            return Response::custom(
                550,
                format!("5.1.1 <{to}>: Recipient address rejected: User unknown"),
            );
        }
        if s.script.defer_rcpt > 0 {
            s.script.defer_rcpt -= 1;
            return Response::custom(451, "4.3.0 Temporary failure, try again later".into());
        }
        OK
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        let mut s = self.state.lock().unwrap();
        s.data_commands += 1;
        if s.script.defer_data > 0 {
            s.script.defer_data -= 1;
            return Response::custom(451, "4.3.0 Mail server temporarily rejected message".into());
        }
        let clean = |a: &str| a.trim_matches(|c| c == '<' || c == '>').to_string();
        self.current = Some(Received {
            from: clean(from),
            to: to.iter().map(|a| clean(a)).collect(),
            data: Vec::new(),
        });
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = self.current.as_mut() {
            m.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(m) = self.current.take() {
            self.state.lock().unwrap().received.push(m);
        }
        OK
    }
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
        let mut server = Server::new(Recorder {
            state: state.clone(),
            current: None,
        });
        server
            .with_name("mx.test")
            .with_num_threads(8)
            .with_tcp_listener(listener);
        server
            .with_ssl(SslConfig::None)
            .expect("plain SMTP needs no certificate");
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        TestServer { port, state }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
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

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
