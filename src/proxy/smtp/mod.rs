//! The SMTP proxy session (protocol 3; protocol.md §11, paper §7.6): a strict state machine that
//! answers HELO/EHLO and MAIL itself, and on RCPT `user%host@proxy` opens an anonymous
//! connection to `host`, replays HELO, MAIL and the rewritten RCPT there, and answers the client
//! with the server's reply. One recipient per message; DATA is relayed with the header filter;
//! after a message only MAIL, QUIT, RSET and NOOP are accepted.
//!
//! The client's commands are handled one at a time: while the proxy waits for the server, the
//! client's further bytes stay buffered (bounded). After a message the anonymous connection is
//! kept for the next message if that goes to the same host (and closed with QUIT otherwise).

pub(crate) mod command;
pub(crate) mod message;
mod replay;
pub(crate) mod reply;

#[cfg(test)]
mod tests;

use command::{parse_command, reply, Command, Recipient, LINE_LIMIT};
use message::{HeaderMode, MessageRelay};
use replay::Upstream;

use super::{Action, Outbox, Session, UpstreamId, BUFFER_LIMIT};
use crate::wire::standard::Status;

pub use command::CommandError;

/// The SMTP port of destination servers.
pub const SMTP_PORT: u16 = 25;

/// Settings of an SMTP proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The proxy's own name: in its greeting and in `anonymous@HOSTNAME` under the filter.
    pub hostname: String,
    /// Destination port (`--smtp-port`, for testbeds).
    pub port: u16,
    /// The privacy filter of protocol.md §11: anonymous sender, HELO with the proxy's name, headers
    /// deleted.
    pub filter: bool,
    /// Under the filter, keep Subject, Date, MIME-* and Content-* (`--keep-headers`).
    pub keep_headers: bool,
    /// A session with no event for this long is closed (`--idle-timeout`; RFC 5321's 5
    /// minutes per command by default).
    pub idle_timeout: std::time::Duration,
}

/// RFC 5321 §4.5.3.2: 5 minutes per command.
pub const SMTP_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl SmtpConfig {
    /// Defaults: port 25, filter on, all headers deleted.
    pub fn new(hostname: impl Into<String>) -> Self {
        SmtpConfig {
            hostname: hostname.into(),
            port: SMTP_PORT,
            filter: true,
            keep_headers: false,
            idle_timeout: SMTP_IDLE_TIMEOUT,
        }
    }

    fn header_mode(&self) -> HeaderMode {
        match (self.filter, self.keep_headers) {
            (false, _) => HeaderMode::KeepAll,
            (true, false) => HeaderMode::DeleteAll,
            (true, true) => HeaderMode::KeepNonIdentifying,
        }
    }
}

/// Where the conversation with the client is.
#[derive(Debug)]
enum Phase {
    /// Greeted; waiting for HELO/EHLO.
    Start,
    /// HELO done; waiting for MAIL.
    Ready,
    /// MAIL accepted; waiting for RCPT.
    MailGiven,
    /// Replaying to the server; the client waits for the RCPT reply.
    Replay,
    /// The recipient is accepted; waiting for DATA (another RCPT gets 452).
    RcptOk,
    /// DATA sent to the server; waiting for its 354.
    DataWait,
    /// Relaying the message.
    Message(MessageRelay),
    /// The end-of-data line is sent; waiting for the server's verdict.
    MessageEnd,
    /// A message is done: MAIL, QUIT, RSET and NOOP only.
    AfterMessage,
    /// QUIT sent to the server; waiting for its reply.
    Quitting,
    Closed,
}

impl Phase {
    /// The proxy is waiting for a command from the client.
    fn takes_commands(&self) -> bool {
        matches!(self, Phase::Start | Phase::Ready | Phase::MailGiven | Phase::RcptOk | Phase::AfterMessage)
    }
}

/// One client connection of the SMTP proxy.
#[derive(Debug)]
pub struct SmtpSession {
    config: SmtpConfig,
    out: Outbox,
    input: Vec<u8>,
    /// A too-long line was refused; its rest is skipped up to the next LF.
    skipping_line: bool,
    phase: Phase,
    client_eof: bool,
    /// `(extended, line)` of the client's HELO/EHLO.
    helo: Option<(bool, Vec<u8>)>,
    /// The client's MAIL command line.
    mail: Option<Vec<u8>>,
    rcpt: Option<Recipient>,
    upstream: Option<Upstream>,
    next_id: UpstreamId,
    /// Refused commands so far; at [`ERROR_LIMIT`] the session ends.
    errors: u32,
}

/// Refused commands (syntax, sequence, unknown, overlong) after which the proxy says 421 and
/// closes, as mail servers do (Postfix: `smtpd_hard_error_limit`): a client sending garbage
/// gets a clear answer and a close, not an endless stream of 500s.
pub const ERROR_LIMIT: u32 = 10;

impl SmtpSession {
    /// A session; its greeting is queued at once.
    pub fn new(config: SmtpConfig) -> Self {
        let mut out = Outbox::default();
        out.send_client(&reply(220, &format!("{} ESMTP ork onion routing SMTP proxy", config.hostname)));
        SmtpSession {
            config,
            out,
            input: Vec::new(),
            skipping_line: false,
            phase: Phase::Start,
            client_eof: false,
            helo: None,
            mail: None,
            rcpt: None,
            upstream: None,
            next_id: 0,
            errors: 0,
        }
    }

    fn say(&mut self, code: u16, text: &str) {
        self.out.send_client(&reply(code, text));
    }

    /// Refuse a command with `answer`; the [`ERROR_LIMIT`]th refusal also ends the session.
    fn refuse(&mut self, answer: &[u8]) {
        self.out.send_client(answer);
        self.errors += 1;
        if self.errors >= ERROR_LIMIT {
            self.say(421, &format!("4.7.0 {} too many errors, closing connection", self.config.hostname));
            self.close();
        }
    }

    /// The next complete command line, without its line ending.
    fn next_line(&mut self) -> Option<Vec<u8>> {
        loop {
            let Some(lf) = self.input.iter().position(|&b| b == b'\n') else {
                if self.input.len() > LINE_LIMIT {
                    self.input.clear();
                    if !std::mem::replace(&mut self.skipping_line, true) {
                        self.refuse(&reply(500, "5.5.2 line too long"));
                    }
                }
                return None;
            };
            let mut line: Vec<u8> = self.input.drain(..=lf).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !std::mem::replace(&mut self.skipping_line, false) {
                return Some(line);
            }
        }
    }

    fn handle_command(&mut self, line: &[u8]) {
        let command = match parse_command(line) {
            Ok(command) => command,
            Err(e) => return self.refuse(&e.reply()),
        };
        match (command, &self.phase) {
            (Command::Quit, _) => self.quit(),
            (Command::Noop, _) => self.say(250, "2.0.0 OK"),
            (Command::NotImplemented, _) => self.refuse(&reply(502, "5.5.1 command not implemented")),
            (Command::Rset, _) => self.rset(),
            (Command::Helo { extended, line }, Phase::Start | Phase::Ready) => {
                self.helo = Some((extended, line));
                self.say(250, &self.config.hostname.clone());
                self.phase = Phase::Ready;
            }
            (Command::Mail { line }, Phase::Ready | Phase::AfterMessage) => {
                self.mail = Some(line);
                self.say(250, "2.1.0 sender ok");
                self.phase = Phase::MailGiven;
            }
            (Command::Rcpt(recipient), Phase::MailGiven) => self.start_replay(recipient),
            (Command::Rcpt(_), Phase::RcptOk) => self.say(452, "4.5.3 only one recipient per message"),
            (Command::Data, Phase::RcptOk) => self.send_data(),
            _ => self.refuse(&reply(503, "5.5.1 bad sequence of commands")),
        }
    }

    fn rset(&mut self) {
        if matches!(self.phase, Phase::MailGiven | Phase::RcptOk) {
            self.reset_upstream_transaction();
            self.mail = None;
            self.rcpt = None;
            self.phase = if self.helo.is_some() { Phase::Ready } else { Phase::Start };
        }
        self.say(250, "2.0.0 OK");
    }

    /// Read commands and message bytes from the client buffer while the phase allows.
    fn drive_client(&mut self) {
        loop {
            if let Phase::Message(relay) = &mut self.phase {
                let mut data = Vec::new();
                let used = relay.feed(&self.input, &mut data);
                let done = relay.is_done();
                self.input.drain(..used);
                self.write_upstream(&data);
                if !done {
                    return;
                }
                self.message_done();
                continue;
            }
            if !self.phase.takes_commands() {
                return;
            }
            match self.next_line() {
                Some(line) => self.handle_command(&line),
                None => return,
            }
        }
    }

    /// Run until the session waits; a client that has half-closed and is owed nothing is done.
    fn pump(&mut self) {
        self.drive_client();
        let waits_for_client = self.phase.takes_commands() || matches!(self.phase, Phase::Message(_));
        if self.client_eof && waits_for_client {
            let mid_message = matches!(self.phase, Phase::Message(_));
            self.drop_upstream(!mid_message);
            self.close();
        }
    }

    /// Close the client (and anything still open).
    fn close(&mut self) {
        self.drop_upstream(false);
        self.out.push(Action::CloseClient);
        self.phase = Phase::Closed;
    }
}

impl Session for SmtpSession {
    fn client_data(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed) || self.client_eof {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.pump();
    }

    fn client_eof(&mut self) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        self.client_eof = true;
        self.pump();
    }

    fn client_closed(&mut self) {
        if !matches!(self.phase, Phase::Closed) {
            self.close();
        }
    }

    fn upstream_status(&mut self, id: UpstreamId, status: Status) {
        if self.upstream.as_ref().is_some_and(|u| u.id == id && u.status.is_none()) {
            self.on_status(status);
            self.pump();
        }
    }

    fn upstream_data(&mut self, id: UpstreamId, bytes: &[u8]) {
        let Some(up) = self.upstream.as_mut().filter(|u| u.id == id && u.status == Some(Status::Ok)) else {
            return;
        };
        up.replies.push(bytes);
        self.drive_upstream();
        self.pump();
    }

    fn upstream_eof(&mut self, id: UpstreamId) {
        self.upstream_closed(id);
    }

    fn upstream_closed(&mut self, id: UpstreamId) {
        if self.upstream.as_ref().is_some_and(|u| u.id == id) {
            self.upstream_lost();
            self.pump();
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop()
    }

    fn wants_client_data(&self) -> bool {
        match self.phase {
            Phase::Closed => false,
            _ if self.client_eof => false,
            Phase::Message(_) => true,
            _ => self.input.len() < BUFFER_LIMIT,
        }
    }

    fn wants_upstream_data(&self, id: UpstreamId) -> bool {
        self.upstream.as_ref().is_some_and(|u| u.id == id && u.replies.len() < super::HEAD_LIMIT)
    }

    fn refuse_client(&mut self) {
        // RFC 5321 §3.1: a 554 greeting instead of 220; the queued greeting never goes out.
        self.out = Outbox::default();
        self.say(554, &format!("5.7.1 {} access denied for this address", self.config.hostname));
        self.close();
    }

    fn is_finished(&self) -> bool {
        self.out.finished()
    }

    /// RFC 5321's 5 minutes per command (configurable).
    fn idle_timeout(&self) -> Option<std::time::Duration> {
        Some(self.config.idle_timeout)
    }
}
