//! The codec's manifest (`core/src/codec/generated.manifest`): what the last `codegen` run wrote
//! and with which generator. The spec lives outside the tree, so a build cannot regenerate the
//! codec to compare; it can check against the manifest that no generated file was edited by hand
//! and that the generator has not changed since it last ran.
//!
//! Digests are FNV-1a 64: change detection between honest edits, not a defence against forgery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest, relative to the workspace root.
pub const PATH: &str = "core/src/codec/generated.manifest";
/// The generator's sources, relative to the workspace root.
const GENERATOR_DIR: &str = "xtask/src";

/// FNV-1a, 64 bits.
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The digest of every `.rs` file under `xtask/src`, path and contents, in path order.
fn generator_digest(root: &Path) -> Result<u64, String> {
    let mut files = Vec::new();
    collect_rs(&root.join(GENERATOR_DIR), &mut files)?;
    files.sort();
    let mut all = Vec::new();
    for path in files {
        let rel = path.strip_prefix(root).unwrap_or(&path);
        all.extend_from_slice(rel.to_string_lossy().as_bytes());
        all.push(0);
        all.extend(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
        all.push(0);
    }
    Ok(digest(&all))
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The manifest of `files` (absolute paths under `root`, with their text).
pub fn render(root: &Path, files: &BTreeMap<PathBuf, String>) -> Result<String, String> {
    let mut out = String::from(
        "# Written by `cargo run -p xtask -- codegen`; checked by `codegen --check --manifest`.\n",
    );
    out.push_str(&format!("generator {:016x}\n", generator_digest(root)?));
    for (path, text) in files {
        let rel = path.strip_prefix(root).unwrap_or(path);
        out.push_str(&format!(
            "file {:016x} {}\n",
            digest(text.as_bytes()),
            rel.display()
        ));
    }
    Ok(out)
}

/// What differs between the tree and its manifest; empty when nothing does.
pub fn check(root: &Path, generated_dirs: &[&str]) -> Result<Vec<String>, String> {
    let path = root.join(PATH);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut problems = Vec::new();
    let mut listed = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("generator"), Some(hex), None) => {
                if format!("{:016x}", generator_digest(root)?) != hex {
                    problems.push(format!(
                        "the generator ({GENERATOR_DIR}) changed since the codec was generated"
                    ));
                }
            }
            (Some("file"), Some(hex), Some(rel)) => {
                let file = root.join(rel);
                listed.push(file.clone());
                match std::fs::read(&file) {
                    Ok(bytes) if format!("{:016x}", digest(&bytes)) == hex => {}
                    Ok(_) => problems.push(format!("{rel} differs from what codegen wrote")),
                    Err(e) => problems.push(format!("{rel}: {e}")),
                }
            }
            _ => return Err(format!("{}: cannot read line {line:?}", path.display())),
        }
    }
    for dir in generated_dirs {
        let mut present = Vec::new();
        collect_rs(&root.join(dir), &mut present)?;
        for extra in present.into_iter().filter(|p| !listed.contains(p)) {
            problems.push(format!("{} is not one codegen wrote", extra.display()));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_1a_reference_values() {
        assert_eq!(digest(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(digest(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(digest(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_hand_edit_and_a_stray_file_are_found() {
        let root = tempfile_root();
        let gen_dir = root.join("gen");
        std::fs::create_dir_all(root.join(GENERATOR_DIR)).expect("dirs");
        std::fs::create_dir_all(&gen_dir).expect("dirs");
        std::fs::write(root.join(GENERATOR_DIR).join("main.rs"), "fn main() {}").expect("write");
        let file = gen_dir.join("a.rs");
        let files = BTreeMap::from([(file.clone(), String::from("// generated\n"))]);
        std::fs::write(&file, "// generated\n").expect("write");
        std::fs::create_dir_all(root.join("core/src/codec")).expect("dirs");
        std::fs::write(root.join(PATH), render(&root, &files).expect("render")).expect("write");
        assert_eq!(check(&root, &["gen"]), Ok(Vec::new()));
        std::fs::write(&file, "// edited\n").expect("write");
        std::fs::write(gen_dir.join("b.rs"), "").expect("write");
        std::fs::write(root.join(GENERATOR_DIR).join("main.rs"), "fn main() { }").expect("write");
        let problems = check(&root, &["gen"]).expect("a readable manifest");
        assert_eq!(problems.len(), 3, "{problems:?}");
        std::fs::remove_dir_all(&root).expect("clean up");
    }

    fn tempfile_root() -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        std::env::temp_dir().join(format!("xtask-manifest-{}-{nanos}", std::process::id()))
    }
}
