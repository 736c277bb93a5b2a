//! `ork status`: print a router's or onion proxy's status snapshot (its `--status-file`).

use std::path::PathBuf;

use anyhow::Context;
use ork::router::stats::StatusReport;

use super::status_age::Freshness;
use super::{ConfigContext, ConfigError};
use ork::input_file::STATUS_FILE_MAX;

/// Show a router's links, connection count, onions peeled and refused, replay-cache size, and
/// how old the snapshot is. Exit status 1 when the router that wrote it is no longer running.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork router --listen 9001 --key r1.key --neighbors r1.neighbors --status-file r1.status &
  ork status r1.status")]
pub struct Args {
    /// The file a router writes with --status-file.
    #[arg(value_name = "STATUS-FILE")]
    pub file: PathBuf,
    /// Print the raw JSON.
    #[arg(long)]
    pub json: bool,
}

/// Render a snapshot as text.
pub fn render(r: &StatusReport) -> String {
    let mut out = format!(
        "router {}: {} of {} neighbour link(s) and client links below, {} connection(s)\n",
        r.identity,
        r.links.iter().filter(|l| l.peer.starts_with("router")).count(),
        r.neighbors,
        r.connections
    );
    for l in &r.links {
        out += &format!(
            "  link {:<40} up {:>6} s (since {})  cells in {:>10}  out {:>10}  queued {} cell(s), {} byte(s) unwritten\n",
            l.peer,
            l.up_for_secs,
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(l.up_since_unix)),
            l.cells_in,
            l.cells_out,
            l.queued_cells,
            l.unwritten_bytes
        );
    }
    let refused: u64 = r.stats.onions_refused.values().sum();
    out += &format!("onions peeled {}, refused {}", r.stats.onions_peeled, refused);
    for (why, n) in &r.stats.onions_refused {
        out += &format!("\n  refused ({why}): {n}");
    }
    out += &format!(
        "\nreplay cache {} entries; mixer queue {} cells; exits opened {}; ACIs in use {} ({} awaiting DESTROY acknowledgement)\n",
        r.replay_cache, r.mixer_queue, r.stats.exits_opened, r.aci_slots, r.awaiting_destroy_ack
    );
    out
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let text = match ork::input_file::read_to_string(&args.file, STATUS_FILE_MAX, "a router status file") {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::msg(format!(
                "{}: no such file: the router is not running (it removes its status file when it stops), \
                 or it runs without --status-file {0}",
                args.file.display()
            )))
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", args.file.display())).config(),
    };
    let not_status = || format!("{}: not a router or onion proxy status file", args.file.display());
    let value: serde_json::Value = serde_json::from_str(&text).with_context(not_status).config()?;
    let body = if let Ok(op) = serde_json::from_value::<ork::client::OnionProxyStatus>(value.clone()) {
        format!(
            "onion proxy: uplink {} ({}), {} application(s), {} connection(s), {} ACI(s) held, {} opened\n",
            op.uplink,
            if op.uplink_open { "up" } else { "down" },
            op.applications,
            op.connections,
            op.acis_in_use,
            op.opened
        )
    } else {
        let report: StatusReport = serde_json::from_value(value.clone()).with_context(not_status).config()?;
        render(&report)
    };
    let freshness = Freshness::of(&value, ork::event::Now::system().unix);
    if args.json {
        super::emit(text)?;
    } else {
        super::emit(format!("{}\n{}", freshness.line(), body))?;
    }
    match freshness {
        Freshness::Live { .. } => Ok(()),
        _ => Err(anyhow::anyhow!("{}: the router that wrote it is not running", args.file.display())),
    }
}
