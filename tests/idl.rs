//! The IDL a front end integrates with (`idl/microliq.json`) is generated from the program by
//! Anchor's own IDL builder (`anchor-lang-idl`, what `anchor idl build` runs: it compiles the
//! program with the `idl-build` feature and collects what the `#[program]`, `#[account]`,
//! `#[event]` and `#[error_code]` macros print). This test regenerates it and fails when the
//! committed file differs from the code.
//!
//! To regenerate after a change: `UPDATE_IDL=1 cargo test -p microliq-tests --test idl`.

use std::path::{Path, PathBuf};

use anchor_lang_idl::build::IdlBuilder;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

#[test]
fn the_committed_idl_is_the_one_the_code_generates() {
    let root = workspace_root();
    // The builder runs `cargo test __anchor_private_print_idl --features idl-build` in the program's
    // directory. Its own target directory keeps it off the outer build's lock; without
    // RUSTUP_TOOLCHAIN it uses the toolchain on PATH (with it set, the builder would try
    // `cargo +<toolchain>` and `rustup toolchain install`).
    // (This binary's only test: nothing else reads the environment meanwhile.)
    std::env::remove_var("RUSTUP_TOOLCHAIN");
    std::env::set_var("CARGO_TARGET_DIR", root.join("target").join("idl-build"));
    // One test thread: `MarketParams` is printed twice (inside the zero-copy `Market`, as
    // `bytemuck`, and as an instruction argument), and the builder keeps the last one printed;
    // in parallel that order, and so the file, would vary from run to run.
    std::env::set_var("RUST_TEST_THREADS", "1");
    let idl = IdlBuilder::new()
        .program_path(root.join("programs").join("microliq"))
        .skip_lint(true)
        .cargo_args(vec!["--locked".into(), "--lib".into()])
        .build()
        .expect("Anchor's IDL builder");
    let generated = serde_json::to_string_pretty(&idl).expect("IDL as JSON") + "\n";
    let path = root.join("idl").join("microliq.json");
    if std::env::var_os("UPDATE_IDL").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "idl/microliq.json differs from the code ({} bytes committed, {} generated): regenerate it with \
         `UPDATE_IDL=1 cargo test -p microliq-tests --test idl` and commit it",
        committed.len(),
        generated.len()
    );
}
