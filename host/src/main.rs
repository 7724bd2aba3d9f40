//! `checkrail`: parse arguments, run, print the error once, exit with a
//! documented code (0 passed, 1 failed, 2 usage or configuration error,
//! 3 a session record that does not verify, 70 internal error, 74 I/O error
//! on checkrail's state; see README.md).

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    // Host-side errors (one per missing file, say) must not capture
    // backtraces: that triples the cost of a check when RUST_BACKTRACE=1.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    match cli::run(args) {
        Ok(code) => code.into(),
        Err(error) => {
            eprintln!("error: {}", checkrail::error::chain(error.as_ref()));
            if cli::confined_out_of_reach(&error) {
                eprintln!(
                    "note: this process runs confined by `checkrail run`, and checkrail's state is out of its reach by design: talk to the supervisor through its MCP endpoint ($CHECKRAIL_URL); approvals and `checkrail allow` are for a human at a terminal outside"
                );
            }
            cli::Exit::Error(cli::kind_of(&error)).into()
        }
    }
}
