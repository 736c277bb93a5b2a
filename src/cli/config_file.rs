//! `--config FILE`: every subcommand's long options may also come from a TOML file, and flags
//! on the command line override it. A key is an option's long name (`listen = "127.0.0.1:9001"`,
//! `padding-rate = 2`, `no-filter = true`, `hop = ["a", "b"]` for repeated options). Keys apply to
//! the subcommand being run; a table named after a subcommand (`[router]`, `[mkonion.build]`)
//! holds keys for that subcommand only, so one file can configure several. Errors name the
//! file, the line and the problem. A relative path in the file (a file or directory option, or
//! the key of `hop`/`via`) is relative to the file's directory, as in the neighbours file.
//!
//! The file is turned into extra arguments placed right after the subcommand's name, before the
//! user's own, and the command line is parsed again: clap does all validation, and an option the
//! user gave on the command line is left out of the file's share so the flag wins.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};

use super::Cli;

/// A problem with a config file, already naming the file and line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigFileError(String);

/// The command line with the options from `--config` (if given) spliced in. A command line that
/// does not parse is returned unchanged so that clap reports it as usual.
pub fn expand(argv: Vec<OsString>) -> Result<Vec<OsString>, ConfigFileError> {
    // Required options may be in the file, so this first look requires nothing.
    let mut cmd = lenient(Cli::command());
    let Ok(matches) = cmd.try_get_matches_from_mut(argv.iter()) else {
        return Ok(argv);
    };
    // The innermost subcommand run, its matches, and its path of names.
    let mut path = Vec::new();
    let mut sub = &matches;
    let mut sub_cmd = &cmd;
    while let Some((name, m)) = sub.subcommand() {
        path.push(name.to_string());
        sub = m;
        match sub_cmd.find_subcommand(name) {
            Some(c) => sub_cmd = c,
            None => return Ok(argv),
        }
    }
    let Some(file) = sub.get_one::<std::path::PathBuf>("config").cloned() else {
        return Ok(argv);
    };
    let text = ork::input_file::read_to_string(&file, ork::input_file::CONFIG_FILE_MAX, "a config file")
        .map_err(|e| ConfigFileError(format!("{}: cannot read config file: {e}", file.display())))?;
    let extra = options_from(&file, &text, &path, sub_cmd, sub)?;
    let argv = splice(argv, &path, extra.iter().map(|(arg, _)| arg.clone()).collect());
    // A bad value from the file is reported at its line, not as if it were a flag.
    if let Err(e) = Cli::command().try_get_matches_from(argv.iter()) {
        if let Some(clap::error::ContextValue::String(arg)) = e.get(clap::error::ContextKind::InvalidArg) {
            let long = arg.trim_start_matches("--").split([' ', '=']).next().unwrap_or("");
            if let Some((_, line)) =
                extra.iter().find(|(a, _)| a.to_str().is_some_and(|a| a.starts_with(&format!("--{long}"))))
            {
                let first = e.to_string().lines().next().unwrap_or("").trim_start_matches("error: ").to_string();
                return Err(ConfigFileError(format!("{}:{line}: {first}", file.display())));
            }
        }
    }
    Ok(argv)
}

/// `c` with no argument or subcommand required, at every level.
fn lenient(c: clap::Command) -> clap::Command {
    let names: Vec<String> = c.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let mut c = c.mut_args(|a| a.required(false)).subcommand_required(false).arg_required_else_help(false);
    for name in names {
        c = c.mut_subcommand(name, lenient);
    }
    c
}

/// The arguments the file contributes for the subcommand at `path`, each with its line.
fn options_from(
    file: &Path,
    text: &str,
    path: &[String],
    sub_cmd: &clap::Command,
    given: &ArgMatches,
) -> Result<Vec<(OsString, usize)>, ConfigFileError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        ConfigFileError(format!("{}:{line}: {}", file.display(), e.message()))
    })?;
    let mut out = Vec::new();
    let mut scope = &table;
    let mut section = String::new();
    for depth in 0..=path.len() {
        for (key, value) in scope {
            let line = key_line(text, &section, key);
            let at = || format!("{}:{line}", file.display());
            if value.is_table() {
                // A table for another subcommand (or for a deeper level of this one) is skipped.
                if is_subcommand_name(key) {
                    continue;
                }
                return Err(ConfigFileError(format!("{}: [{key}] is not a subcommand of ork", at())));
            }
            if depth < path.len() && !section.is_empty() {
                continue;
            }
            let mut args = Vec::new();
            add_option(file, &at(), key, value, sub_cmd, given, &mut args)?;
            out.extend(args.into_iter().map(|a| (a, line)));
        }
        let Some(next) = path.get(depth) else { break };
        match scope.get(next).and_then(|v| v.as_table()) {
            Some(t) => {
                scope = t;
                section = if section.is_empty() { next.clone() } else { format!("{section}.{next}") };
            }
            None => break,
        }
    }
    Ok(out)
}

fn is_subcommand_name(key: &str) -> bool {
    fn walk(c: &clap::Command, key: &str) -> bool {
        c.get_subcommands().any(|s| s.get_name() == key || walk(s, key))
    }
    walk(&Cli::command(), key)
}

/// `--key value` argument(s) for one setting, unless the command line already set it.
fn add_option(
    file: &Path,
    at: &str,
    key: &str,
    value: &toml::Value,
    sub_cmd: &clap::Command,
    given: &ArgMatches,
    out: &mut Vec<OsString>,
) -> Result<(), ConfigFileError> {
    let Some(arg) = sub_cmd.get_arguments().find(|a| a.get_long() == Some(key) && !a.is_hide_set()) else {
        let mut known = String::new();
        for a in
            sub_cmd.get_arguments().filter_map(|a| a.get_long()).filter(|l| !["help", "version", "config"].contains(l))
        {
            let _ = write!(known, "{}{a}", if known.is_empty() { "" } else { ", " });
        }
        return Err(ConfigFileError(format!(
            "{at}: unknown setting `{key}` for `ork {}` (settings: {known})",
            sub_cmd.get_name()
        )));
    };
    if key == "config" {
        return Err(ConfigFileError(format!("{at}: a config file cannot name another config file")));
    }
    if given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine) {
        return Ok(());
    }
    let takes_value = arg.get_num_args().map(|n| n.takes_values()).unwrap_or(true);
    let flag = format!("--{key}");
    let scalar = |v: &toml::Value| -> Result<String, ConfigFileError> {
        match v {
            toml::Value::String(s) => Ok(super::config_paths::relative_to_file(arg, file, s)),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            other => {
                Err(ConfigFileError(format!("{at}: `{key}` wants a string or a number, not {}", other.type_str())))
            }
        }
    };
    match value {
        toml::Value::Boolean(b) if !takes_value => {
            if *b {
                out.push(flag.into());
            }
        }
        _ if !takes_value => {
            return Err(ConfigFileError(format!("{at}: `{key}` is a switch: write `{key} = true` or `false`")));
        }
        toml::Value::Array(items) => {
            for item in items {
                out.push(format!("{flag}={}", scalar(item)?).into());
            }
        }
        v => out.push(format!("{flag}={}", scalar(v)?).into()),
    }
    Ok(())
}

/// `argv` with `extra` inserted right after the name of the innermost subcommand in `path`.
fn splice(argv: Vec<OsString>, path: &[String], extra: Vec<OsString>) -> Vec<OsString> {
    let mut at = 0;
    for name in path {
        match argv.iter().skip(at + 1).position(|a| a.to_str() == Some(name.as_str())) {
            Some(i) => at += i + 1,
            None => return argv,
        }
    }
    let mut out = argv;
    let tail = out.split_off(at + 1);
    out.extend(extra);
    out.extend(tail);
    out
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Line of `key = ...` inside `[section]` (the top level when empty), best effort.
fn key_line(text: &str, section: &str, key: &str) -> usize {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = name.trim().to_string();
            continue;
        }
        if current != section {
            continue;
        }
        let lhs = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if lhs == key {
            return i + 1;
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn run(file_text: &str, args: &[&str]) -> Result<Cli, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let file = dir.path().join("ork.toml");
        std::fs::write(&file, file_text).map_err(|e| e.to_string())?;
        let mut argv: Vec<OsString> = vec!["ork".into()];
        for a in args {
            argv.push(a.replace("FILE", &file.display().to_string()).into());
        }
        let argv = expand(argv).map_err(|e| e.to_string().replace(&file.display().to_string(), "ork.toml"))?;
        Cli::try_parse_from(argv).map_err(|e| e.to_string())
    }

    fn router(cli: Cli) -> crate::cli::router::Args {
        match cli.command {
            crate::cli::Command::Router(a) => a,
            other => panic!("not a router: {other:?}"),
        }
    }

    #[test]
    fn file_values_apply_and_flags_override() {
        let text = "listen = \"127.0.0.1:9100\"\nkey = \"r.key\"\nneighbors = \"n.txt\"\npadding-rate = 3\n";
        let a = router(run(text, &["router", "--config", "FILE"]).expect("parses"));
        assert_eq!(a.padding_rate, 3.0);
        assert_eq!((a.listen.host, a.listen.port), (Some([127, 0, 0, 1].into()), 9100));
        let a = router(run(text, &["router", "--config", "FILE", "--padding-rate", "7"]).expect("parses"));
        assert_eq!(a.padding_rate, 7.0, "the flag wins");
        let a = router(run(text, &["--config", "FILE", "router", "--listen", "9200"]).expect("parses"));
        assert_eq!(a.listen.port, 9200);
    }

    #[test]
    fn sections_switches_and_lists() {
        let text = "[router]\nkey = \"r.key\"\nneighbors = \"n.txt\"\n\n[http-proxy]\nno-filter = true\n\n[mkonion.build]\nhop = [\"127.0.0.1:1=a.pub\", \"127.0.0.1:2=b.pub\"]\nout = \"o.bin\"\n";
        router(run(text, &["router", "--config", "FILE"]).expect("router section"));
        match run(text, &["http-proxy", "--config", "FILE"]).expect("http section").command {
            crate::cli::Command::HttpProxy(a) => assert!(a.no_filter),
            other => panic!("{other:?}"),
        }
        let cli = run(text, &["mkonion", "build", "--config", "FILE"]).expect("nested section");
        assert!(format!("{cli:?}").contains("b.pub"), "{cli:?}");
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let e = run("key = \"r.key\"\n\npading-rate = 2\n", &["router", "--config", "FILE"]).unwrap_err();
        assert!(e.starts_with("ork.toml:3: unknown setting `pading-rate` for `ork router`"), "{e}");
        let e = run("listen = \n", &["router", "--config", "FILE"]).unwrap_err();
        assert!(e.starts_with("ork.toml:1: "), "{e}");
        let e = run("[http-proxy]\nno-filter = \"yes\"\n", &["http-proxy", "--config", "FILE"]).unwrap_err();
        assert!(e.starts_with("ork.toml:2: `no-filter` is a switch"), "{e}");
        let e = run("[bogus]\nx = 1\n", &["http-proxy", "--config", "FILE"]).unwrap_err();
        assert!(e.contains("[bogus] is not a subcommand"), "{e}");
        let e = run("key = \"k\"\nneighbors = \"n\"\npadding-rate = \"lots\"\n", &["router", "--config", "FILE"])
            .unwrap_err();
        assert!(e.starts_with("ork.toml:3: invalid value 'lots' for '--padding-rate"), "{e}");
        let e = run("", &["router", "--config", "/nonexistent/ork.toml"]).unwrap_err();
        assert!(e.contains("cannot read config file"), "{e}");
    }
}
