//! The `ork` binary: parse the command line, set up logging, dispatch to a subcommand and map
//! its outcome to the exit status of protocol.md §14 (0 success, 1 runtime failure, 2 usage or
//! configuration error).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // Options from --config FILE go in first; flags on the command line override them.
    let argv = match cli::config_file::expand(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(err) => {
            eprintln!("ork: error: {err}");
            return ExitCode::from(cli::EXIT_CONFIG);
        }
    };
    // A usage error exits with status 2 in ork's one error style; --help / --version with 0.
    let args = match cli::Cli::try_parse_from(argv) {
        Ok(args) => args,
        Err(err) => match cli::usage_error::lines(&err) {
            Some(lines) => {
                eprintln!("{}", lines.join("\n"));
                return ExitCode::from(cli::EXIT_CONFIG);
            }
            None => err.exit(),
        },
    };
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ork: error: {}", cli::error_line(&err));
            ExitCode::from(cli::exit_status(&err))
        }
    }
}
