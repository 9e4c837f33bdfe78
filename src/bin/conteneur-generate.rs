//! Build-time helper, not installed: writes conteneur's man pages and shell
//! completions from its clap definitions (`conteneur-generate man DIR`,
//! `conteneur-generate completions DIR`). packaging/build-deb.sh runs it.

fn main() -> std::process::ExitCode {
    conteneur::cli::generate::main()
}
