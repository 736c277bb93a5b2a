//! Command-line interface: the subcommands of `ork` (one file each), their dispatch, and the
//! typed marker that turns an error into exit status 2 (usage or configuration, protocol.md §14).

mod allow_from;
mod args;
pub mod config_file;
mod config_paths;
pub mod connect;
mod connect_reply;
pub mod directory;
mod directory_io;
pub mod funnel;
pub mod http_proxy;
pub mod keygen;
pub mod mkonion;
pub mod onion_proxy;
mod peer_guess;
mod reply_endpoint;
pub mod rlogin_proxy;
mod route_check;
pub mod router;
mod router_directory;
mod router_reply;
pub mod smtp_proxy;
pub mod socks_proxy;
pub mod status;
mod status_age;
pub mod usage_error;

use std::fmt;
use std::io::Write;

use clap::{Parser, Subcommand};

/// Exit status of a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of a usage or configuration error (the same status clap uses).
pub const EXIT_CONFIG: u8 = 2;

/// ork: anonymous connections by onion routing (Reed, Syverson, Goldschlag 1998).
#[derive(Debug, Parser)]
#[command(name = "ork", version, propagate_version = true)]
#[command(after_help = "\
Examples:
  ork keygen --out r1
  ork mkonion build --hop 127.0.0.1:9001=r1.pub --hop 127.0.0.1:9002=r2.pub -o onion.bin
  ork mkonion peel --key r1.key onion.bin -o inner.bin

Every subcommand reads its options from a TOML file too (--config FILE; keys are the long
option names, flags on the command line win): see ork(1).
Logging goes to stderr at level info; set RUST_LOG (e.g. RUST_LOG=debug) to change it.
Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// TOML file of options (keys are long option names; command-line flags override it)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Keygen(keygen::Args),
    Mkonion(mkonion::Args),
    Router(router::Args),
    OnionProxy(onion_proxy::Args),
    Funnel(funnel::Args),
    HttpProxy(http_proxy::Args),
    SmtpProxy(smtp_proxy::Args),
    RloginProxy(rlogin_proxy::Args),
    SocksProxy(socks_proxy::Args),
    Connect(connect::Args),
    Status(status::Args),
    Directory(directory::Args),
}

/// Run the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Mkonion(a) => mkonion::run(a),
        Command::Router(a) => router::run(a),
        Command::OnionProxy(a) => onion_proxy::run(a),
        Command::Funnel(a) => funnel::run(a),
        Command::HttpProxy(a) => http_proxy::run(a),
        Command::SmtpProxy(a) => smtp_proxy::run(a),
        Command::RloginProxy(a) => rlogin_proxy::run(a),
        Command::SocksProxy(a) => socks_proxy::run(a),
        Command::Connect(a) => connect::run(a),
        Command::Status(a) => status::run(a),
        Command::Directory(a) => directory::run(a),
    }
}

/// A usage or configuration error (bad flag value, unreadable key or config file, refusing to
/// overwrite): exit status 2. Anything else that fails is a runtime failure, exit status 1.
///
/// Build one with [`ConfigError::msg`] or mark a `Result` with [`ConfigContext::config`]; it is
/// found anywhere in an `anyhow` chain, so `.context(..)` may be added on top.
#[derive(Debug)]
pub struct ConfigError(anyhow::Error);

impl ConfigError {
    /// A configuration error with this message, as an `anyhow::Error`.
    pub fn msg(msg: impl fmt::Display) -> anyhow::Error {
        anyhow::Error::new(ConfigError(anyhow::anyhow!("{msg}")))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole inner chain (this error has no `source`), so nothing is lost or repeated.
        f.write_str(&error_line(&self.0))
    }
}

impl std::error::Error for ConfigError {}

/// Mark the error of a `Result` as a configuration error (exit status 2).
pub trait ConfigContext<T> {
    fn config(self) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ConfigContext<T> for Result<T, E> {
    fn config(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::new(ConfigError(e.into())))
    }
}

/// The exit status for an error: 2 if a [`ConfigError`] is anywhere in its chain, else 1.
pub fn exit_status(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<ConfigError>()) {
        EXIT_CONFIG
    } else {
        EXIT_FAILURE
    }
}

/// Write a subcommand's output to stdout. Unlike `println!` this never panics: a closed pipe
/// (`ork mkonion show ... | head`) or a full disk is an ordinary error.
pub fn emit(text: impl fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    write!(out, "{text}").and_then(|()| out.flush()).map_err(|e| anyhow::anyhow!("writing to stdout: {e}"))
}

/// An error and its causes on one line, `outer: cause: root`, leaving out a cause whose text
/// its parent already ends with (a `thiserror` variant that prints its `#[from]` source).
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    let mut last = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !last.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        last = text;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn config_errors_map_to_status_2_through_context() {
        let e = ConfigError::msg("bad flag");
        assert_eq!(exit_status(&e), EXIT_CONFIG);
        let e = Err::<(), _>(e).context("loading r1.key").unwrap_err();
        assert_eq!(exit_status(&e), EXIT_CONFIG);
        let e = Err::<(), _>(std::io::Error::other("disk")).config().unwrap_err();
        assert_eq!(exit_status(&e), EXIT_CONFIG);
        assert_eq!(format!("{e:#}"), "disk");
        assert_eq!(exit_status(&anyhow::anyhow!("connection refused")), EXIT_FAILURE);
    }

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("bad layer: {0}")]
        Layer(#[from] Inner),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("version 7 is not 1")]
    struct Inner;

    #[test]
    fn error_line_drops_causes_already_printed() {
        let e = anyhow::Error::new(Outer::from(Inner)).context("cannot peel o.bin");
        assert_eq!(error_line(&e), "cannot peel o.bin: bad layer: version 7 is not 1");
        let e = anyhow::anyhow!("root").context("middle").context("top");
        assert_eq!(error_line(&e), "top: middle: root");
    }
}
