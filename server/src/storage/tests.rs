use super::*;

#[test]
fn partition_dirs_split_at_the_last_dash() {
    assert_eq!(parse_partition_dir("orders-0"), Some(("orders", 0)));
    assert_eq!(parse_partition_dir("orders-eu-12"), Some(("orders-eu", 12)));
    assert_eq!(
        parse_partition_dir("__consumer_offsets-49"),
        Some(("__consumer_offsets", 49))
    );
    assert_eq!(parse_partition_dir("orders"), None);
    assert_eq!(parse_partition_dir("-1"), None);
    assert_eq!(parse_partition_dir("orders-"), None);
    assert_eq!(
        parse_partition_dir("orders--1"),
        Some(("orders-", 1)),
        "a topic may end in a dash"
    );
    assert_eq!(parse_partition_dir("orders-+1"), None);
    assert_eq!(
        parse_partition_dir("orders-99999999999"),
        None,
        "beyond i32"
    );
}

#[test]
fn segment_names_are_twenty_digits() {
    assert_eq!(segment_file_name(0), "00000000000000000000.log");
    assert_eq!(segment_file_name(42), "00000000000000000042.log");
    assert_eq!(parse_segment_name("00000000000000000042.log"), Some(42));
    assert_eq!(parse_segment_name("42.log"), None);
    assert_eq!(parse_segment_name("00000000000000000042.index"), None);
    assert_eq!(parse_segment_name("0000000000000000004x.log"), None);
}

#[test]
fn unsafe_names_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    assert!(storage.create_segment("../escape", 0, 0, 64).is_err());
    assert!(storage.create_segment("..", 0, 0, 64).is_err());
    assert!(storage.create_segment("", 0, 0, 64).is_err());
    assert!(storage.create_segment("t", -1, 0, 64).is_err());
    assert!(storage.create_segment("t", 0, -5, 64).is_err());
    assert!(storage.write_metadata("a/b", 0, b"x").is_err());
}

/// Two segments of `orders-eu-3` (the first sealed at 5 bytes, the second, from offset 10, not:
/// `second` written), its metadata written twice, a segment of `other-0`, and a stray directory
/// and file.
fn write_two_segments(dir: &Path, storage: &mut FileStorage, capacity: usize) {
    let mut first = storage
        .create_segment("orders-eu", 3, 0, capacity)
        .expect("create first segment");
    first.write_at(0, b"first", b"").expect("write first");
    storage.seal_segment(&mut first, 5).expect("seal first");
    let mut second = storage
        .create_segment("orders-eu", 3, 10, capacity)
        .expect("create second segment");
    second.write_at(0, b"sec", b"ond").expect("write second");
    storage
        .write_metadata("orders-eu", 3, b"meta v1")
        .expect("metadata");
    storage
        .write_metadata("orders-eu", 3, b"meta v2")
        .expect("metadata again");
    storage
        .create_segment("other", 0, 0, 64)
        .expect("other topic");
    std::fs::create_dir(dir.join("not_a_partition")).expect("stray dir");
    std::fs::write(dir.join("orders-eu-3").join("notes.txt"), b"x").expect("stray file");
}

/// Write two segments and metadata, seal, scan back: what a restart sees.
#[test]
fn scan_round_trip_after_clean_and_unclean_shutdown() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    let capacity = 4096;
    // Crash: nothing sealed the newest segment.
    write_two_segments(dir.path(), &mut storage, capacity);
    let mut scan = storage.scan(capacity, false).expect("scan");
    assert!(
        scan.partitions
            .iter()
            .flat_map(|p| &p.segments)
            .all(|f| !f.segment.is_open() && f.segment.as_ref().is_empty()),
        "a scan opens no segment"
    );
    for f in scan.partitions.iter_mut().flat_map(|p| &mut p.segments) {
        storage.open_segment(&mut f.segment).expect("opens");
    }
    assert_eq!(scan.partitions.len(), 2);
    assert_eq!(scan.ignored.len(), 2, "{:?}", scan.ignored);
    let p = &scan.partitions[0];
    assert_eq!((p.topic.as_str(), p.partition), ("orders-eu", 3));
    assert_eq!(p.metadata.as_deref(), Some(&b"meta v2"[..]));
    assert_eq!(p.segments.len(), 2);
    assert_eq!(p.segments[0].base_offset, 0);
    assert_eq!(p.segments[0].segment.as_ref(), b"first");
    assert_eq!(p.segments[0].recovery, Recovery::Checked);
    assert_eq!(p.segments[0].segment.capacity_bytes(), 5, "sealed");
    assert_eq!(p.segments[1].base_offset, 10);
    assert_eq!(
        p.segments[1].segment.as_ref(),
        b"second",
        "what was written"
    );
    assert_eq!(p.segments[1].segment.capacity_bytes(), capacity);
    assert_eq!(p.segments[1].recovery, Recovery::Checked);
    assert_eq!(scan.partitions[1].topic, "other");
    drop(scan);

    // Clean shutdown: the newest segment is sealed, then found at its length, growable again.
    let mut scan = storage.scan(capacity, false).expect("scan again");
    let newest = &mut scan.partitions[0].segments[1].segment;
    storage.open_segment(newest).expect("opens");
    newest.write_at(6, b"", b"!").expect("appends go on");
    storage.seal_segment(newest, 6).expect("seal newest");
    drop(scan);
    assert_eq!(
        std::fs::metadata(dir.path().join("orders-eu-3").join(segment_file_name(10)))
            .expect("segment file")
            .len(),
        6
    );
    let mut scan = storage
        .scan(capacity, true)
        .expect("scan after clean shutdown");
    storage
        .open_segment(&mut scan.partitions[0].segments[1].segment)
        .expect("opens");
    let p = &scan.partitions[0];
    assert_eq!(p.segments[0].recovery, Recovery::HeadersTrusted);
    assert_eq!(p.segments[1].recovery, Recovery::HeadersTrusted);
    assert_eq!(p.segments[1].segment.as_ref(), b"second");
    assert_eq!(p.segments[1].segment.capacity_bytes(), capacity);
}

/// Closed, a segment holds no file and no map, keeps its capacity, refuses writes, can be
/// sealed and deleted; opened again it reads what was written and appends go on.
#[test]
fn a_segment_closes_and_opens_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    let mut segment = storage.create_segment("t", 0, 0, 4096).expect("create");
    segment.write_at(0, b"abc", b"def").expect("write");
    storage.close_segment(&mut segment).expect("close");
    assert!(!segment.is_open());
    assert_eq!(segment.as_ref(), b"");
    assert_eq!(segment.capacity_bytes(), 4096);
    assert!(segment.write_at(6, b"g", b"").is_err(), "closed");
    storage.open_segment(&mut segment).expect("open");
    storage
        .open_segment(&mut segment)
        .expect("opening an open one changes nothing");
    assert_eq!(segment.as_ref(), b"abcdef");
    segment.write_at(6, b"g", b"").expect("appends go on");
    storage.close_segment(&mut segment).expect("close");
    storage
        .seal_segment(&mut segment, 7)
        .expect("a closed segment seals");
    assert_eq!(segment.capacity_bytes(), 7);
    storage.open_segment(&mut segment).expect("open sealed");
    assert_eq!(segment.as_ref(), b"abcdefg");
    assert!(segment.write_at(7, b"h", b"").is_err(), "sealed");
    storage.close_segment(&mut segment).expect("close");
    let path = dir.path().join("t-0").join(segment_file_name(0));
    assert!(path.exists());
    storage
        .delete_segment(segment)
        .expect("a closed segment deletes");
    assert!(!path.exists());
}

#[test]
fn a_segment_whose_file_is_gone_fails_to_open_with_not_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    let mut segment = storage.create_segment("t", 0, 0, 64).expect("create");
    storage.close_segment(&mut segment).expect("close");
    std::fs::remove_file(dir.path().join("t-0").join(segment_file_name(0))).expect("remove");
    let e = storage.open_segment(&mut segment).expect_err("gone");
    assert_eq!(e.kind, StorageErrorKind::NotFound);
    assert!(e.reason.contains("t-0"), "{e}");
    assert!(!segment.is_open());
}

#[test]
fn interrupted_metadata_writes_are_discarded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    storage.write_metadata("t", 0, b"good").expect("metadata");
    let tmp = temp_path(&dir.path().join("t-0").join(METADATA_FILE));
    std::fs::write(&tmp, b"torn").expect("torn temp file");
    let scan = storage.scan(64, true).expect("scan");
    assert_eq!(scan.partitions[0].metadata.as_deref(), Some(&b"good"[..]));
    assert!(scan.partitions[0].segments.is_empty());
    assert!(!tmp.exists());
}

#[test]
fn delete_partition_removes_the_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    let segment = storage.create_segment("t", 1, 0, 64).expect("create");
    storage.delete_partition("t", 1).expect("delete");
    assert!(!dir.path().join("t-1").exists());
    // The open file outlives its unlinked name.
    assert_eq!(segment.capacity_bytes(), 64);
    storage
        .delete_partition("t", 1)
        .expect("deleting twice is fine");
    assert!(storage.scan(64, true).expect("scan").partitions.is_empty());
}

#[test]
fn deleted_segments_are_unmapped_and_unlinked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    let mut old = storage.create_segment("t", 0, 0, 64).expect("create");
    old.write_at(0, b"old", b"").expect("write");
    storage.seal_segment(&mut old, 3).expect("seal");
    let newer = storage.create_segment("t", 0, 7, 64).expect("create");
    let path = dir.path().join("t-0").join(segment_file_name(0));
    assert!(path.exists());
    storage.delete_segment(old).expect("delete");
    assert!(!path.exists());
    let scan = storage.scan(64, true).expect("scan");
    let bases: Vec<i64> = scan.partitions[0]
        .segments
        .iter()
        .map(|s| s.base_offset)
        .collect();
    assert_eq!(bases, [7]);
    drop((scan, newer));
}

#[test]
fn a_cleaned_segment_replaces_the_old_file_and_a_leftover_one_is_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    let mut old = storage.create_segment("t", 0, 0, 64).expect("create");
    old.write_at(0, b"old bytes", b"").expect("write");
    storage.seal_segment(&mut old, 9).expect("seal");
    let _active = storage.create_segment("t", 0, 9, 64).expect("create");
    let partition = dir.path().join("t-0");
    let mut cleaned = storage
        .create_cleaned_segment("t", 0, 0, 64)
        .expect("create cleaned");
    assert!(partition.join("00000000000000000000.cleaned").exists());
    cleaned.write_at(0, b"new", b"").expect("write");
    storage
        .replace_segment(&mut old, &mut cleaned, 3)
        .expect("replace");
    drop(old);
    assert!(!partition.join("00000000000000000000.cleaned").exists());
    let bytes = std::fs::read(partition.join(segment_file_name(0))).expect("read");
    assert_eq!(
        bytes, b"new",
        "the rewrite, trimmed to its length, under the old name"
    );
    assert_eq!(cleaned.as_ref(), b"new", "still mapped after the rename");
    // A rewrite a crash left before its rename is removed at the next start; the segment it
    // rewrote is untouched.
    let mut leftover = storage
        .create_cleaned_segment("t", 0, 9, 64)
        .expect("create cleaned");
    leftover.write_at(0, b"half", b"").expect("write");
    drop(leftover);
    let scan = storage.scan(64, false).expect("scan");
    assert!(!partition.join("00000000000000000009.cleaned").exists());
    assert!(scan.ignored.is_empty(), "{:?}", scan.ignored);
    let bases: Vec<i64> = scan.partitions[0]
        .segments
        .iter()
        .map(|s| s.base_offset)
        .collect();
    assert_eq!(bases, [0, 9]);
}

#[test]
fn the_log_start_offset_file_round_trips_and_is_not_a_stray() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    storage.create_segment("t", 0, 0, 64).expect("create");
    assert_eq!(storage.read_log_start_offset("t", 0), Ok(None));
    storage.write_log_start_offset("t", 0, 41).expect("write");
    storage
        .write_log_start_offset("t", 0, 42)
        .expect("write again");
    assert_eq!(storage.read_log_start_offset("t", 0), Ok(Some(42)));
    let file = dir.path().join("t-0").join(LOG_START_OFFSET_FILE);
    assert_eq!(std::fs::read(&file).expect("file"), b"42\n");
    // A torn write's temporary file is dropped; the file itself is no stray.
    let tmp = temp_path(&file);
    std::fs::write(&tmp, b"9").expect("torn temp file");
    let scan = storage.scan(64, true).expect("scan");
    assert!(scan.ignored.is_empty(), "{:?}", scan.ignored);
    assert!(!tmp.exists());
    // Damaged contents stop the start rather than bring deleted records back.
    std::fs::write(&file, b"forty-two\n").expect("damage");
    assert!(storage.read_log_start_offset("t", 0).is_err());
    std::fs::write(&file, b"-3\n").expect("damage");
    assert!(storage.read_log_start_offset("t", 0).is_err());
    assert!(storage.read_log_start_offset("../x", 0).is_err());
}

#[test]
fn the_transaction_index_is_appended_replaced_found_and_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    storage.create_segment("t", 0, 0, 64).expect("create");
    storage.create_segment("t", 1, 0, 64).expect("create");
    let found = |storage: &FileStorage| -> Vec<Option<Vec<u8>>> {
        let scan = storage.scan(64, false).expect("scan");
        assert!(scan.ignored.is_empty(), "{:?}", scan.ignored);
        scan.partitions
            .into_iter()
            .map(|p| p.transaction_index)
            .collect()
    };
    assert_eq!(found(&storage), [None, None], "no transaction, no file");
    storage
        .append_transaction_index("t", 0, b"abcd")
        .expect("append");
    storage
        .append_transaction_index("t", 0, b"ef")
        .expect("append");
    assert_eq!(found(&storage), [Some(b"abcdef".to_vec()), None]);
    storage
        .write_transaction_index("t", 0, b"xy")
        .expect("replace");
    assert_eq!(found(&storage), [Some(b"xy".to_vec()), None]);
    // A replacement cut short by a crash leaves its temporary file, dropped at the scan.
    let file = dir.path().join("t-0").join(TRANSACTION_INDEX_FILE);
    std::fs::write(temp_path(&file), b"torn").expect("temp file");
    assert_eq!(found(&storage), [Some(b"xy".to_vec()), None]);
    assert!(!temp_path(&file).exists());
    storage
        .write_transaction_index("t", 0, b"")
        .expect("remove");
    assert!(!file.exists());
    storage
        .write_transaction_index("t", 0, b"")
        .expect("removing a missing file is fine");
    assert!(storage.append_transaction_index("../x", 0, b"a").is_err());
}

#[test]
fn the_recovery_checkpoint_is_written_by_the_flusher_and_read_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    assert_eq!(storage.read_recovery_checkpoint(), Ok(None));
    assert_eq!(
        storage.close(),
        Ok(()),
        "nothing started, nothing to finish"
    );
    // Handed over in a row: the newest wins, whichever the thread took in between.
    for i in 0..50u32 {
        storage
            .write_recovery_checkpoint(format!("checkpoint {i}\n").as_bytes())
            .expect("handed over");
    }
    storage.close().expect("written and joined");
    let path = dir.path().join(RECOVERY_CHECKPOINT_FILE);
    assert_eq!(std::fs::read(&path).expect("file"), b"checkpoint 49\n");
    assert!(!temp_path(&path).exists(), "replaced atomically");
    // A restart reads it; a later write starts the thread again.
    let mut again = FileStorage::new(dir.path().to_path_buf(), true);
    assert_eq!(
        again.read_recovery_checkpoint(),
        Ok(Some(b"checkpoint 49\n".to_vec()))
    );
    again
        .write_recovery_checkpoint(b"newer")
        .expect("handed over");
    drop(again);
    assert_eq!(
        std::fs::read(&path).expect("file"),
        b"newer",
        "written on drop too"
    );
}

#[test]
fn a_checkpoint_that_cannot_be_written_is_an_error_at_close() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gone = dir.path().join("gone");
    let mut storage = FileStorage::new(gone, false);
    storage
        .write_recovery_checkpoint(b"x")
        .expect("handed over");
    let e = storage.close().expect_err("no directory to sync");
    assert_eq!(e.kind, StorageErrorKind::NotFound, "{e}");
}

/// A plan over segment 0 of `t-0`, for a cleaner thread's files.
fn plan_of_t0() -> blazemq_core::log::cleaner::job::Plan {
    use blazemq_core::log::cleaner::job::{Plan, Span};
    Plan {
        topic: "t".into(),
        partition: 0,
        segments: vec![Span {
            base: 0,
            next_offset: 1,
            len: 9,
        }],
        first_dirty: 0,
        end: 1,
        tombstones_before: i64::MIN,
        aborted: Vec::new(),
        map_budget_bytes: 1 << 20,
        decompressed_bytes_max: 1 << 20,
    }
}

#[test]
fn a_cleaner_thread_reads_segments_and_leaves_rewrites_durable_for_a_rename() {
    use blazemq_core::log::cleaner::job::JobIo;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    let mut old = storage.create_segment("t", 0, 0, 64).expect("create");
    old.write_at(0, b"old bytes", b"").expect("write");
    storage.seal_segment(&mut old, 9).expect("seal");
    let files = storage.cleaning_files();
    let mut cleaned = std::thread::spawn(move || {
        let mut io = files.for_plan(&plan_of_t0());
        assert_eq!(io.segment(0, 9).expect("read"), b"old bytes");
        assert!(io.segment(0, 10).is_err(), "not past its end");
        let mut out = io.create(0, 64).expect("create");
        out.write_at(0, b"new", b"").expect("write");
        io.finish(&mut out, 3).expect("finish");
        out
    })
    .join()
    .expect("thread");
    assert!(cleaned.durable);
    storage
        .replace_segment(&mut old, &mut cleaned, 3)
        .expect("replace");
    let bytes = std::fs::read(dir.path().join("t-0").join(segment_file_name(0))).expect("read");
    assert_eq!(bytes, b"new");
}

#[test]
fn a_cleaner_thread_creates_no_rewrite_in_a_deleted_partition() {
    use blazemq_core::log::cleaner::job::JobIo;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = FileStorage::new(dir.path().to_path_buf(), false);
    storage.create_segment("t", 0, 0, 64).expect("create");
    let mut io = storage.cleaning_files().for_plan(&plan_of_t0());
    storage.delete_partition("t", 0).expect("delete");
    let refused = io.create(0, 64).expect_err("no directory");
    assert_eq!(refused.kind, StorageErrorKind::NotFound);
    assert!(!dir.path().join("t-0").exists(), "nothing recreated it");
}
