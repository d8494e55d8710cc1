//! Project tasks run by hand: `cargo run -p xtask -- codegen [--spec-dir DIR] [--check]`.
//!
//! `codegen` writes `core/src/codec/messages/` (one rustfmt'd module per Kafka request,
//! response and header) and `core/src/codec/api_key.rs` from Kafka's JSON message spec. With
//! `--check` it writes nothing and exits non-zero if a rerun would change any file.

mod api_keys;
mod codegen;
mod manifest;
mod spec;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use spec::MessageSpec;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    "usage: cargo run -p xtask -- codegen [--spec-dir DIR] [--check [--manifest]]".into()
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("codegen") => {}
        _ => return Err(usage()),
    }
    let root = workspace_root();
    let mut spec_dir = root.join("../shared/kafka-message-spec");
    let mut check = false;
    let mut manifest_only = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--manifest" => manifest_only = true,
            "--spec-dir" => spec_dir = PathBuf::from(it.next().ok_or_else(usage)?),
            _ => return Err(usage()),
        }
    }
    if manifest_only {
        return check_manifest(&root);
    }
    let mut files = generate(&root, &spec_dir)?;
    let manifest = manifest::render(&root, &files)?;
    files.insert(root.join(manifest::PATH), manifest);
    let messages_dir = root.join("core/src/codec/messages");
    if check {
        let mut stale = Vec::new();
        for (path, text) in &files {
            if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        for extra in extra_files(&messages_dir, &files) {
            stale.push(format!("{} (no longer generated)", extra.display()));
        }
        if stale.is_empty() {
            println!("codegen: {} files up to date", files.len());
            return Ok(ExitCode::SUCCESS);
        }
        for s in &stale {
            eprintln!("codegen: would change {s}");
        }
        return Ok(ExitCode::FAILURE);
    }
    std::fs::create_dir_all(&messages_dir)
        .map_err(|e| format!("{}: {e}", messages_dir.display()))?;
    for extra in extra_files(&messages_dir, &files) {
        std::fs::remove_file(&extra).map_err(|e| format!("{}: {e}", extra.display()))?;
    }
    for (path, text) in &files {
        if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    println!("codegen: wrote {} files", files.len());
    Ok(ExitCode::SUCCESS)
}

/// The check a build can make without the spec: the generated files and the generator are as the
/// manifest recorded them.
fn check_manifest(root: &Path) -> Result<ExitCode, String> {
    let problems = manifest::check(root, &["core/src/codec/messages"])?;
    if problems.is_empty() {
        println!(
            "codegen: the generated codec and its generator match {}",
            manifest::PATH
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        eprintln!("codegen: {p}; run `cargo run -p xtask -- codegen`");
    }
    Ok(ExitCode::FAILURE)
}

fn workspace_root() -> PathBuf {
    // CARGO_MANIFEST_DIR is xtask/; the workspace is its parent.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `.rs` files in `dir` that this run does not generate.
fn extra_files(dir: &Path, files: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut extra: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs") && !files.contains_key(p))
        .collect();
    extra.sort();
    extra
}

/// Reads the spec and returns every generated file, formatted, by path.
fn generate(root: &Path, spec_dir: &Path) -> Result<BTreeMap<PathBuf, String>, String> {
    let mut specs: Vec<MessageSpec> = Vec::new();
    let entries =
        std::fs::read_dir(spec_dir).map_err(|e| format!("{}: {e}", spec_dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let spec = spec::parse_message(&file, &text)?;
        // Requests, responses and the two headers; the "data" files (records in internal
        // topics, consumer protocol payloads) are not messages on the wire.
        if matches!(spec.kind.as_str(), "request" | "response" | "header") {
            specs.push(spec);
        }
    }
    if specs.is_empty() {
        return Err(format!("no message spec files in {}", spec_dir.display()));
    }
    specs.sort_by(|a, b| a.name.cmp(&b.name));

    let mut files = BTreeMap::new();
    let messages_dir = root.join("core/src/codec/messages");
    for spec in &specs {
        let module = codegen::snake_case(&spec.name);
        let text = codegen::message_module(spec)?;
        files.insert(
            messages_dir.join(format!("{module}.rs")),
            rustfmt(&text, &spec.name)?,
        );
    }
    files.insert(
        messages_dir.join("mod.rs"),
        rustfmt(&api_keys::messages_mod(&specs), "mod.rs")?,
    );
    files.insert(
        root.join("core/src/codec/api_key.rs"),
        rustfmt(&api_keys::api_key_module(&specs)?, "api_key.rs")?,
    );
    Ok(files)
}

fn rustfmt(text: &str, what: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("rustfmt: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("rustfmt: no stdin")?
        .write_all(text.as_bytes())
        .map_err(|e| format!("rustfmt: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !out.status.success() {
        let dump = std::env::temp_dir().join(format!("xtask-codegen-{what}.rs"));
        let _ = std::fs::write(&dump, text);
        return Err(format!(
            "rustfmt failed on {what} (unformatted source in {}):\n{}",
            dump.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("rustfmt output: {e}"))
}
