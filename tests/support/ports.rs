//! Ports for servers that are down.
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};

/// A port nothing listens on, for "the server is down" (and for a server a
/// test starts there later). It lies below the kernel's ephemeral range
/// (32768–60999 on Linux), which is where every server the tests start on
/// port 0 gets its port, and each call gives another one: a port taken from
/// the ephemeral range and closed again could be handed to a concurrent
/// test's server a moment later, which then answered in place of the "down"
/// one (a crash test once saw its email delivered twice that way).
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Test binaries run one after the other, but keep two runs of the suite
    // on one machine (two worktrees) apart as well.
    let start = (std::process::id() % 600) as u16 * 20;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (start + n % 12_000) % 12_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
