//! The `conteneur` binary: everything lives in the library; see `cli`.

/// mimalloc rather than glibc's allocator: loading a configuration builds
/// and frees many small strings and maps, and glibc's free lists were about
/// a third of the cycles of a large load + render (BENCHMARKS.md). Built
/// with `no_thp`: mimalloc would otherwise ask for transparent huge pages,
/// and each 2 MB page touched doubled the peak RSS (13 -> 30 MB at 50
/// containers).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    conteneur::cli::main()
}
