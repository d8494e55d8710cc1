//! Every file of `corpus/<target>/` through its target, on stable: the corpora (seeds from real
//! clients and every input a fuzzer found that crashed once) are regression tests.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .map(|e| e.path())
                .unwrap_or_else(|e| panic!("{target}: {e}"))
        })
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_replays_without_a_failure() {
    let mut failed = Vec::new();
    for (target, run) in blazemq_fuzz::TARGETS {
        let files = corpus_files(target);
        assert!(!files.is_empty(), "corpus/{target} has no seeds");
        for path in files {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failed.push(path.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}
