//! SMTP proxy sessions against a scripted fake server: the paper's §7.6 conversation, filter
//! modes, two messages, end-of-data split anywhere, refusals and lost connections.

use proptest::prelude::*;

use super::{SmtpConfig, SmtpSession, ERROR_LIMIT};
use crate::proxy::testutil::{event_strategy, run_events, Harness};
use crate::proxy::UpstreamId;
use crate::wire::standard::{Host, Protocol, Status};

/// A destination SMTP server that answers each command line and records what it got.
struct FakeServer {
    id: UpstreamId,
    buf: String,
    in_data: bool,
    message: String,
    messages: Vec<String>,
    commands: Vec<String>,
    rcpt_reply: &'static str,
    ehlo_reply: &'static str,
}

impl FakeServer {
    /// Accept the anonymous connection the session just opened and greet.
    fn accept(h: &mut Harness<SmtpSession>) -> FakeServer {
        let id = h.last_opened();
        h.status(id, Status::Ok);
        h.upstream_sends(id, b"220-recipient.example Sendmail ready\r\n220 at your service\r\n");
        let mut server = FakeServer {
            id,
            buf: String::new(),
            in_data: false,
            message: String::new(),
            messages: Vec::new(),
            commands: Vec::new(),
            rcpt_reply: "250 2.1.5 Recipient ok\r\n",
            ehlo_reply: "250-recipient.example Hello\r\n250 8BITMIME\r\n",
        };
        server.serve(h);
        server
    }

    /// Answer everything the session has sent so far (and what that provokes).
    fn serve(&mut self, h: &mut Harness<SmtpSession>) {
        loop {
            let got = h.take_upstream(self.id);
            if got.is_empty() {
                return;
            }
            self.buf.push_str(&got);
            let mut replies = String::new();
            while let Some(end) = self.buf.find("\r\n") {
                let line: String = self.buf.drain(..end + 2).collect();
                let line = &line[..end];
                if self.in_data {
                    if line == "." {
                        self.in_data = false;
                        self.messages.push(std::mem::take(&mut self.message));
                        replies += "250 2.0.0 Ok: queued\r\n";
                    } else {
                        self.message += &format!("{line}\r\n");
                    }
                    continue;
                }
                self.commands.push(line.to_string());
                replies += match line.get(..4).unwrap_or_default().to_ascii_uppercase().as_str() {
                    "EHLO" => self.ehlo_reply,
                    "HELO" => "250 recipient.example\r\n",
                    "MAIL" => "250 2.1.0 Sender ok\r\n",
                    "RCPT" => self.rcpt_reply,
                    "DATA" => {
                        self.in_data = true;
                        "354 End data with <CR><LF>.<CR><LF>\r\n"
                    }
                    "RSET" => "250 2.0.0 Reset\r\n",
                    "QUIT" => "221 2.0.0 Bye\r\n",
                    _ => "500 what\r\n",
                };
            }
            if !replies.is_empty() {
                h.upstream_sends(self.id, replies.as_bytes());
            }
        }
    }
}

fn proxy(filter: bool, keep_headers: bool) -> Harness<SmtpSession> {
    let config = SmtpConfig { filter, keep_headers, ..SmtpConfig::new("onion.example") };
    let mut h = Harness::new(SmtpSession::new(config));
    assert_eq!(h.take_client(), "220 onion.example ESMTP ork onion routing SMTP proxy\r\n");
    h
}

/// HELO, MAIL and RCPT up to the server's RCPT reply.
fn to_recipient(h: &mut Harness<SmtpSession>, helo: &str) -> FakeServer {
    h.client_sends(format!("{helo}\r\nMAIL From:<joe@sender.com>\r\n").as_bytes());
    assert_eq!(h.take_client(), "250 onion.example\r\n250 2.1.0 sender ok\r\n");
    h.client_sends(b"RCPT TO:<mary%recipient.example@onion.example>\r\n");
    let s = h.peer(h.last_opened()).structure.clone().unwrap();
    assert_eq!((s.protocol, s.host, s.port), (Protocol::Smtp, Host::Name("recipient.example".into()), 25));
    let server = FakeServer::accept(h);
    assert_eq!(h.take_client(), "250 2.1.5 Recipient ok\r\n");
    server
}

const MESSAGE: &str = "From: Joe <joe@sender.com>\r\nSubject: hi\r\nX-Originating-IP: 10.1.2.3\r\n\
    Content-Type: text/plain\r\n\r\nThis is a note\r\n..with a stuffed dot\r\n.\r\n";

fn send_message(h: &mut Harness<SmtpSession>, server: &mut FakeServer, message: &str) {
    h.client_sends(b"DATA\r\n");
    server.serve(h);
    assert_eq!(h.take_client(), "354 End data with <CR><LF>.<CR><LF>\r\n");
    h.client_sends(message.as_bytes());
    server.serve(h);
    assert_eq!(h.take_client(), "250 2.0.0 Ok: queued\r\n");
}

#[test]
fn paper_session_under_the_filter() {
    let mut h = proxy(true, false);
    let mut server = to_recipient(&mut h, "EHLO sender.com");
    assert_eq!(
        server.commands,
        ["EHLO onion.example", "MAIL FROM:<anonymous@onion.example>", "RCPT TO:<mary@recipient.example>"]
    );
    send_message(&mut h, &mut server, MESSAGE);
    assert_eq!(server.messages, ["\r\nThis is a note\r\n..with a stuffed dot\r\n"]);
    h.client_sends(b"QUIT\r\n");
    server.serve(&mut h);
    assert_eq!(h.take_client(), "221 2.0.0 Bye\r\n");
    assert!(h.client_closed && h.peer(server.id).closed);
}

#[test]
fn header_modes() {
    let cases = [
        (false, false, MESSAGE[..MESSAGE.len() - 3].to_string()),
        (
            true,
            true,
            "Subject: hi\r\nContent-Type: text/plain\r\n\r\nThis is a note\r\n..with a stuffed dot\r\n".into(),
        ),
    ];
    for (filter, keep_headers, expected) in cases {
        let mut h = proxy(filter, keep_headers);
        let mut server = to_recipient(&mut h, "HELO sender.com");
        if !filter {
            assert_eq!(server.commands[..2], ["HELO sender.com", "MAIL From:<joe@sender.com>"]);
        }
        send_message(&mut h, &mut server, MESSAGE);
        assert_eq!(server.messages, [expected]);
    }
}

#[test]
fn end_of_data_split_at_every_byte() {
    let message = "Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n";
    for split in 1..message.len() {
        let mut h = proxy(true, false);
        let mut server = to_recipient(&mut h, "HELO a");
        h.client_sends(b"DATA\r\n");
        server.serve(&mut h);
        h.take_client();
        h.client_sends(&message.as_bytes()[..split]);
        server.serve(&mut h);
        h.client_sends(&message.as_bytes()[split..]);
        server.serve(&mut h);
        assert_eq!(server.messages, ["\r\nbody\r\n"], "split {split}");
        assert_eq!(h.take_client(), "250 2.0.0 Ok: queued\r\n250 2.0.0 OK\r\n", "split {split}");
    }
}

#[test]
fn two_messages_reuse_then_switch_hosts() {
    let mut h = proxy(true, false);
    let mut server = to_recipient(&mut h, "EHLO a");
    send_message(&mut h, &mut server, "one\r\n.\r\n");
    h.client_sends(b"HELO again\r\n");
    assert_eq!(h.take_client(), "503 5.5.1 bad sequence of commands\r\n");
    h.client_sends(b"MAIL FROM:<x@y>\r\nRCPT TO:<bob%recipient.example@onion.example>\r\n");
    server.serve(&mut h);
    assert_eq!(h.opened.len(), 1, "same host: the connection is reused");
    assert_eq!(h.take_client(), "250 2.1.0 sender ok\r\n250 2.1.5 Recipient ok\r\n");
    assert_eq!(server.commands[4..], ["MAIL FROM:<anonymous@onion.example>", "RCPT TO:<bob@recipient.example>"]);
    send_message(&mut h, &mut server, "two\r\n.\r\n");
    assert_eq!(server.messages.len(), 2);
    h.client_sends(b"MAIL FROM:<x@y>\r\nRCPT TO:<eve%other.example@onion.example>\r\n");
    assert_eq!(h.opened.len(), 2);
    assert!(h.peer(server.id).closed);
    assert_eq!(h.take_upstream(server.id), "QUIT\r\n");
}

#[test]
fn one_recipient_per_message() {
    let mut h = proxy(true, false);
    let mut server = to_recipient(&mut h, "HELO a");
    h.client_sends(b"RCPT TO:<second%recipient.example@onion.example>\r\n");
    assert_eq!(h.take_client(), "452 4.5.3 only one recipient per message\r\n");
    send_message(&mut h, &mut server, "still fine\r\n.\r\n");
}

#[test]
fn strict_order_and_syntax() {
    let mut h = proxy(true, false);
    let steps: [(&str, &str); 9] = [
        ("MAIL FROM:<a@b>", "503 5.5.1 bad sequence of commands"),
        ("DATA", "503 5.5.1 bad sequence of commands"),
        ("HELO", "501 5.5.4 syntax error: HELO/EHLO domain"),
        ("BOGUS", "500 5.5.2 command not recognized"),
        ("VRFY joe", "502 5.5.1 command not implemented"),
        ("HELO a", "250 onion.example"),
        ("RCPT TO:<x%y@z>", "503 5.5.1 bad sequence of commands"),
        ("MAIL FROM:<a@b>", "250 2.1.0 sender ok"),
        ("RCPT TO:<mary@recipient.example>", "553 5.1.3 recipient must be user%host@proxy"),
    ];
    for (command, answer) in steps {
        h.client_sends(format!("{command}\r\n").as_bytes());
        assert_eq!(h.take_client(), format!("{answer}\r\n"), "{command}");
    }
    h.client_sends(b"RSET\r\nMAIL FROM:<a@b>\r\n");
    assert_eq!(h.take_client(), "250 2.0.0 OK\r\n250 2.1.0 sender ok\r\n");
    h.client_sends(&vec![b'N'; 5000]);
    h.client_sends(b"OOP\r\nNOOP\r\n");
    assert_eq!(h.take_client(), "500 5.5.2 line too long\r\n250 2.0.0 OK\r\n");
    assert!(h.opened.is_empty());
}

#[test]
fn bad_status_is_451_or_554_and_the_session_goes_on() {
    for (status, answer) in [(Status::ConnectFailed, "451 4.4.0 "), (Status::Policy, "554 5.7.1 ")] {
        let mut h = proxy(true, false);
        h.client_sends(b"HELO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<m%r.example@p>\r\n");
        h.take_client();
        h.status(h.last_opened(), status);
        let reply = h.take_client();
        assert!(reply.starts_with(answer) && reply.contains(status.meaning()), "{reply}");
        h.client_sends(b"RCPT TO:<m%r.example@p>\r\n");
        assert_eq!(h.opened.len(), 2, "a new attempt");
        FakeServer::accept(&mut h);
        assert_eq!(h.take_client(), "250 2.1.5 Recipient ok\r\n");
    }
}

#[test]
fn too_many_errors_end_the_session() {
    let mut h = proxy(true, false);
    for i in 1..ERROR_LIMIT {
        h.client_sends(b"\xff garbage\r\n");
        assert_eq!(h.take_client(), "501 5.5.4 syntax error: commands are printable ASCII\r\n", "refusal {i}");
        assert!(!h.client_closed);
    }
    h.client_sends(b"BOGUS\r\nNOOP\r\n");
    assert_eq!(
        h.take_client(),
        "500 5.5.2 command not recognized\r\n421 4.7.0 onion.example too many errors, closing connection\r\n"
    );
    assert!(h.client_closed, "closed after the limit; the NOOP behind it is not answered");
}

#[test]
fn server_refusals_reach_the_client() {
    let mut h = proxy(true, false);
    h.client_sends(b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<nobody%recipient.example@p>\r\n");
    h.take_client();
    let id = h.last_opened();
    h.status(id, Status::Ok);
    h.upstream_sends(id, b"220 hi\r\n");
    assert_eq!(h.take_upstream(id), "EHLO onion.example\r\n");
    h.upstream_sends(id, b"502 no ESMTP here\r\n");
    assert_eq!(h.take_upstream(id), "HELO onion.example\r\n", "falls back to HELO");
    h.upstream_sends(id, b"250 ok\r\n250 sender ok\r\n");
    h.upstream_sends(id, b"550-5.1.1 no such user\r\n550 5.1.1 really\r\n");
    assert_eq!(h.take_client(), "550-5.1.1 no such user\r\n550 5.1.1 really\r\n");
    assert!(h.take_upstream(id).ends_with("RSET\r\n"));
    h.upstream_sends(id, b"250 reset\r\n");
    assert_eq!(h.take_client(), "", "the RSET reply is the proxy's own business");
    h.client_sends(b"DATA\r\n");
    assert_eq!(h.take_client(), "503 5.5.1 bad sequence of commands\r\n");
}

#[test]
fn lost_connection_mid_message_and_client_leaving() {
    let mut h = proxy(true, false);
    let mut server = to_recipient(&mut h, "HELO a");
    h.client_sends(b"DATA\r\n");
    server.serve(&mut h);
    h.take_client();
    h.client_sends(b"Subject: x\r\n\r\npart one\r\n");
    h.upstream_closed(server.id);
    h.client_sends(b"part two\r\n.\r\nQUIT\r\n");
    assert_eq!(
        h.take_client(),
        "451 4.4.2 connection to the destination lost\r\n221 2.0.0 onion.example closing connection\r\n"
    );
    assert!(h.client_closed);

    let mut h = proxy(true, false);
    let mut server = to_recipient(&mut h, "HELO a");
    h.client_sends(b"DATA\r\n");
    server.serve(&mut h);
    h.client_sends(b"half a mess");
    h.client_eof();
    assert!(h.client_closed && h.peer(server.id).closed);
    assert!(!h.take_upstream(server.id).contains("QUIT"), "no end-of-data, no QUIT: the server drops it");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_events_never_panic(events in proptest::collection::vec(event_strategy(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            Just(b"HELO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<m%r.example@p>\r\n".to_vec()),
            Just(b"220 hi\r\n250 ok\r\n250 ok\r\n250 ok\r\n".to_vec()),
            Just(b"DATA\r\n354 go\r\nx\r\n.\r\nQUIT\r\n".to_vec()),
        ]), 0..40), filter: bool, keep_headers: bool) {
        let config = SmtpConfig { filter, keep_headers, ..SmtpConfig::new("p.example") };
        run_events(SmtpSession::new(config), events);
    }
}
