//! `--allow-from CIDR` of the application proxies: which client networks each accepts
//! (loopback by default), as the onion proxy has.

use std::net::IpAddr;

use ork::config::allow::{parse_cidr, AllowList};

/// The flag, flattened into each application proxy's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AllowFrom {
    /// Networks clients may connect from (CIDR; repeat for more). Others are refused in the
    /// proxy's protocol and logged.
    #[arg(long = "allow-from", value_name = "CIDR", default_values = ["127.0.0.0/8", "::1/128"], value_parser = parse_cidr)]
    pub nets: Vec<(IpAddr, u8)>,
}

impl AllowFrom {
    pub fn list(&self) -> AllowList {
        AllowList(self.nets.clone())
    }
}
