//! The server side of an SMTP proxy session: the anonymous connection to the recipient's host,
//! the replay of HELO/EHLO, MAIL and RCPT (paper §7.6), and each server reply matched to the
//! command it answers and relayed, swallowed or turned into a local reply.

use std::collections::VecDeque;

use super::command::Recipient;
use super::message::MessageRelay;
use super::reply::{Reply, ReplyReader};
use super::{Phase, SmtpSession};
use crate::proxy::{status_text, Action, UpstreamId};
use crate::wire::standard::{Host, Protocol, StandardStructure, Status};

/// What the server's next reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Greeting,
    Helo {
        extended: bool,
    },
    Mail,
    Rcpt,
    Data,
    MessageEnd,
    Quit,
    /// A reply nobody waits for (to RSET).
    Ignore,
}

/// The anonymous connection to the current destination host.
#[derive(Debug)]
pub struct Upstream {
    pub id: UpstreamId,
    pub host: Host,
    pub status: Option<Status>,
    pub replies: ReplyReader,
    pub expect: VecDeque<Expect>,
    /// HELO/EHLO accepted: can take MAIL.
    pub greeted: bool,
    /// MAIL accepted and not yet finished or reset.
    pub in_transaction: bool,
}

impl Upstream {
    /// Open, greeted and between transactions: can carry another message.
    fn idle(&self) -> bool {
        self.status == Some(Status::Ok) && self.greeted && !self.in_transaction && self.expect.is_empty()
    }
}

/// The text of a reply made when the destination connection is gone.
const LOST: &str = "4.4.2 connection to the destination lost";

impl SmtpSession {
    /// RCPT: reuse the idle connection to the same host, or open one; then replay.
    pub(super) fn start_replay(&mut self, recipient: Recipient) {
        let reuse = self.upstream.as_ref().is_some_and(|u| u.host == recipient.host && u.idle());
        let host = recipient.host.clone();
        self.rcpt = Some(recipient);
        self.phase = Phase::Replay;
        if reuse {
            self.send_mail();
            return;
        }
        self.drop_upstream(true);
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let structure = StandardStructure::new(Protocol::Smtp, host.clone(), self.config.port);
        self.out.push(Action::Open { id, structure });
        self.upstream = Some(Upstream {
            id,
            host,
            status: None,
            replies: ReplyReader::default(),
            expect: VecDeque::from([Expect::Greeting]),
            greeted: false,
            in_transaction: false,
        });
    }

    pub(super) fn on_status(&mut self, status: Status) {
        let Some(up) = &mut self.upstream else { return };
        up.status = Some(status);
        if status == Status::Ok {
            return;
        }
        log::debug!("smtp proxy: {}: {}", up.host, status_text(status));
        self.drop_upstream(false);
        let (code, enhanced) = if status == Status::Policy { (554, "5.7.1") } else { (451, "4.4.0") };
        self.say(code, &format!("{enhanced} {}", status_text(status)));
        self.phase = Phase::MailGiven;
    }

    /// Send a command line (CRLF added) and remember what its reply answers.
    fn command(&mut self, line: &[u8], expect: Expect) {
        let Some(up) = &mut self.upstream else { return };
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\n");
        up.expect.push_back(expect);
        self.out.send_upstream(up.id, &bytes);
    }

    pub(super) fn write_upstream(&mut self, bytes: &[u8]) {
        if let Some(up) = self.upstream.as_ref().filter(|u| u.status == Some(Status::Ok)) {
            self.out.send_upstream(up.id, bytes);
        }
    }

    fn send_helo(&mut self, extended: bool) {
        let verb = if extended { "EHLO" } else { "HELO" };
        let line = match &self.helo {
            Some((ext, line)) if !self.config.filter && *ext == extended => line.clone(),
            Some((_, line)) if !self.config.filter => {
                let domain = line.get(5..).unwrap_or_default();
                [verb.as_bytes(), b" ", domain].concat()
            }
            _ => format!("{verb} {}", self.config.hostname).into_bytes(),
        };
        self.command(&line, Expect::Helo { extended });
    }

    fn send_mail(&mut self) {
        let line = match &self.mail {
            Some(line) if !self.config.filter => line.clone(),
            _ => format!("MAIL FROM:<anonymous@{}>", self.config.hostname).into_bytes(),
        };
        self.command(&line, Expect::Mail);
    }

    fn send_rcpt(&mut self) {
        let Some(r) = &self.rcpt else { return };
        let mut line = format!("RCPT TO:<{}>", r.address());
        if !self.config.filter && !r.params.is_empty() {
            line = format!("{line} {}", r.params);
        }
        self.command(line.as_bytes(), Expect::Rcpt);
    }

    /// DATA from the client.
    pub(super) fn send_data(&mut self) {
        if self.upstream.as_ref().is_some_and(|u| u.status == Some(Status::Ok) && u.in_transaction) {
            self.command(b"DATA", Expect::Data);
            self.phase = Phase::DataWait;
        } else {
            self.say(451, LOST);
            self.phase = Phase::MailGiven;
        }
    }

    /// The client's end-of-data line has been relayed.
    pub(super) fn message_done(&mut self) {
        match &mut self.upstream {
            Some(up) if up.status == Some(Status::Ok) => {
                up.expect.push_back(Expect::MessageEnd);
                self.phase = Phase::MessageEnd;
            }
            _ => {
                self.say(451, LOST);
                self.phase = Phase::AfterMessage;
            }
        }
    }

    /// QUIT from the client: through the server if a connection is open, else locally.
    pub(super) fn quit(&mut self) {
        if self.upstream.as_ref().is_some_and(|u| u.status == Some(Status::Ok)) {
            self.command(b"QUIT", Expect::Quit);
            self.phase = Phase::Quitting;
        } else {
            self.say(221, &format!("2.0.0 {} closing connection", self.config.hostname));
            self.close();
        }
    }

    /// RSET from the client during a transaction: the server's transaction goes too.
    pub(super) fn reset_upstream_transaction(&mut self) {
        if self.upstream.as_ref().is_some_and(|u| u.in_transaction) {
            self.command(b"RSET", Expect::Ignore);
        }
        if let Some(up) = &mut self.upstream {
            up.in_transaction = false;
        }
    }

    /// Close the connection (with QUIT first if `polite` and it is open).
    pub(super) fn drop_upstream(&mut self, polite: bool) {
        let Some(up) = self.upstream.take() else {
            return;
        };
        if polite && up.status == Some(Status::Ok) {
            self.out.send_upstream(up.id, b"QUIT\r\n");
        }
        self.out.push(Action::CloseUpstream { id: up.id });
    }

    /// The connection ended or broke: answer whatever the client waits for.
    pub(super) fn upstream_lost(&mut self) {
        self.drop_upstream(false);
        match self.phase {
            Phase::Replay | Phase::DataWait => {
                self.say(451, LOST);
                self.phase = Phase::MailGiven;
            }
            Phase::MessageEnd => {
                self.say(451, LOST);
                self.phase = Phase::AfterMessage;
            }
            Phase::Quitting => {
                self.say(221, &format!("2.0.0 {} closing connection", self.config.hostname));
                self.close();
            }
            // Mid-message the rest of the message is read and dropped; then the client hears.
            _ => {}
        }
    }

    /// Handle every complete reply the server has sent.
    pub(super) fn drive_upstream(&mut self) {
        loop {
            let Some(up) = &mut self.upstream else { return };
            let reply = match up.replies.next_reply() {
                Ok(Some(reply)) => reply,
                Ok(None) => return,
                Err(e) => {
                    log::debug!("smtp proxy: {}: {e}", up.host);
                    return self.upstream_lost();
                }
            };
            match up.expect.pop_front() {
                Some(expect) => self.on_reply(expect, reply),
                // 421: the server is closing the connection on its own.
                None if reply.code == 421 => return self.upstream_lost(),
                None => {}
            }
        }
    }

    fn on_reply(&mut self, expect: Expect, reply: Reply) {
        let positive = reply.is_positive();
        match expect {
            Expect::Ignore => {}
            Expect::Greeting if positive => {
                let extended = self.helo.as_ref().is_some_and(|(extended, _)| *extended);
                self.send_helo(extended);
            }
            Expect::Helo { extended: true } if reply.code >= 500 => self.send_helo(false),
            Expect::Helo { .. } if positive => {
                if let Some(up) = &mut self.upstream {
                    up.greeted = true;
                }
                self.send_mail();
            }
            Expect::Greeting | Expect::Helo { .. } => {
                self.out.send_client(&reply.lines);
                self.drop_upstream(true);
                self.phase = Phase::MailGiven;
            }
            Expect::Mail if positive => {
                if let Some(up) = &mut self.upstream {
                    up.in_transaction = true;
                }
                self.send_rcpt();
            }
            Expect::Mail => {
                self.out.send_client(&reply.lines);
                self.phase = Phase::MailGiven;
            }
            Expect::Rcpt => {
                self.out.send_client(&reply.lines);
                if positive {
                    self.phase = Phase::RcptOk;
                } else {
                    self.reset_upstream_transaction();
                    self.phase = Phase::MailGiven;
                }
            }
            Expect::Data => {
                self.out.send_client(&reply.lines);
                self.phase = match reply.code {
                    300..=399 => Phase::Message(MessageRelay::new(self.config.header_mode())),
                    _ => Phase::RcptOk,
                };
            }
            Expect::MessageEnd => {
                self.out.send_client(&reply.lines);
                if let Some(up) = &mut self.upstream {
                    up.in_transaction = false;
                }
                self.mail = None;
                self.rcpt = None;
                self.phase = Phase::AfterMessage;
            }
            Expect::Quit => {
                self.out.send_client(&reply.lines);
                self.close();
            }
        }
    }
}
