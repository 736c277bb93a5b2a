//! Paths in a `--config` TOML file are relative to the file's directory (as key paths in a
//! neighbours or network file are), not to the directory `ork` happens to run in.

use std::path::Path;

/// `value` of option `arg` from config file `file`, with a relative path made relative to the
/// file's directory: the whole value of a path option, or the key path after the first `=` of
/// a `HOST:PORT=PUBKEY` option (`hop`, `via`). Anything else is returned unchanged.
pub fn relative_to_file(arg: &clap::Arg, file: &Path, value: &str) -> String {
    let base = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => return value.to_string(),
    };
    let join = |p: &str| {
        if p.is_empty() || Path::new(p).is_absolute() {
            p.to_string()
        } else {
            base.join(p).display().to_string()
        }
    };
    let is_path =
        matches!(arg.get_value_hint(), clap::ValueHint::AnyPath | clap::ValueHint::FilePath | clap::ValueHint::DirPath);
    let is_hop = arg.get_value_names().is_some_and(|names| names.iter().any(|n| n.as_str().ends_with("=PUBKEY")));
    if is_path {
        join(value)
    } else if is_hop {
        match value.split_once('=') {
            Some((addr, key)) => format!("{addr}={}", join(key)),
            None => value.to_string(),
        }
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn arg(sub: &str, long: &str) -> clap::Arg {
        let cmd = crate::cli::Cli::command();
        let mut c = cmd.find_subcommand(sub).expect("subcommand").clone();
        if sub == "mkonion" {
            c = c.find_subcommand("build").expect("build").clone();
        }
        let arg = c.get_arguments().find(|a| a.get_long() == Some(long)).expect("option").clone();
        arg
    }

    #[test]
    fn paths_and_hop_keys_follow_the_file() {
        let file = Path::new("/etc/ork/r1.toml");
        assert_eq!(relative_to_file(&arg("router", "key"), file, "r1.key"), "/etc/ork/r1.key");
        assert_eq!(relative_to_file(&arg("router", "key"), file, "/k/r1.key"), "/k/r1.key");
        assert_eq!(relative_to_file(&arg("router", "listen"), file, "9001"), "9001");
        assert_eq!(
            relative_to_file(&arg("mkonion", "hop"), file, "127.0.0.1:9001=keys/r1.pub"),
            "127.0.0.1:9001=/etc/ork/keys/r1.pub"
        );
        assert_eq!(relative_to_file(&arg("onion-proxy", "via"), file, "h:1=/abs.pub"), "h:1=/abs.pub");
        assert_eq!(relative_to_file(&arg("router", "key"), Path::new("r1.toml"), "r1.key"), "r1.key");
    }
}
