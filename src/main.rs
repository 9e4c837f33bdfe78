//! The `conteneur` binary: everything lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    conteneur::cli::main()
}
