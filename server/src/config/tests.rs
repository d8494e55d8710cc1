use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use super::*;

fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, ConfigError> {
    let env = env
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
    load(args.iter().map(OsString::from), env)
}

fn config(args: &[&str], env: &[(&str, &str)]) -> Config {
    match run(args, env) {
        Ok(Command::Run(config)) => *config,
        other => panic!("expected a config, got {other:?}"),
    }
}

fn error(args: &[&str], env: &[(&str, &str)]) -> String {
    run(args, env).expect_err("must be refused").to_string()
}

fn yaml(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("blazemq.yaml");
    std::fs::write(&path, text).expect("write yaml");
    path
}

#[test]
fn defaults() {
    let c = config(&[], &[]);
    assert_eq!(c.bind_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(c.port, 9092);
    assert_eq!(c.advertised_host, "127.0.0.1");
    assert_eq!(c.log_dir, PathBuf::from("/tmp/blazemq/data"));
    assert_eq!(c.segment_size_bytes, 1 << 30);
    assert_eq!(c.broker_id, 0);
    assert_eq!(c.num_partitions, 1);
    assert!(c.auto_create_topics);
    assert_eq!(c.retention_ms, 604_800_000);
    assert_eq!(c.retention_bytes, -1);
    assert_eq!(c.segment_ms, 604_800_000);
    assert_eq!(c.offsets_retention_minutes, 10_080);
    assert_eq!(c.offsets_retention_check_interval_ms, 600_000);
    assert_eq!(c.request_size_bytes_max, 104_857_600);
    assert_eq!(c.group_initial_rebalance_delay_ms, 0);
    assert_eq!(c.log_flush_offset_checkpoint_interval_ms, 60_000);
    assert_eq!(c.num_io_threads, 1);
    assert_eq!(c.connection_output_bytes_max, 4 << 20);
    assert_eq!(c.limits().request_size_bytes_max, 104_857_600);
    assert_eq!(
        c.open_segments_max,
        blazemq_core::broker::OPEN_SEGMENTS_MAX_DEFAULT,
        "one default, in core"
    );
}

#[test]
fn open_segment_cap_from_every_source_and_checked() {
    assert_eq!(
        config(&["--max-open-segments", "8"], &[]).open_segments_max,
        8
    );
    let env = [("BLAZEMQ_MAX_OPEN_SEGMENTS", "100")];
    assert_eq!(config(&[], &env).open_segments_max, 100);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(dir.path(), "max_open_segments: 3\n");
    let file = file.to_str().expect("utf-8 temp path");
    assert_eq!(config(&["--config", file], &[]).open_segments_max, 3);
    for bad in ["0", "-1", "2000000", "many"] {
        let e = error(&["--max-open-segments", bad], &[]);
        assert!(e.contains("max_open_segments") && e.contains(bad), "{e}");
    }
}

#[test]
fn every_default_parses_and_every_setting_is_documented() {
    let help = help();
    for s in SETTINGS {
        assert!(
            help.contains(&format!("--{}", s.flag)),
            "{} missing",
            s.flag
        );
        assert!(help.contains(s.env), "{} missing", s.env);
        assert!(s.env.starts_with("BLAZEMQ_"));
    }
}

#[test]
fn flags_beat_env_beat_file_beat_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(
        dir.path(),
        "port: 1111\nbroker_id: 7\nnum_partitions: 3\nretention_ms: 5\n",
    );
    let file = file.to_str().expect("utf-8 temp path");
    let env = [("BLAZEMQ_PORT", "2222"), ("BLAZEMQ_BROKER_ID", "8")];
    let c = config(&["--config", file, "--port", "3333"], &env);
    assert_eq!(c.port, 3333, "flag beats env and file");
    assert_eq!(c.broker_id, 8, "env beats file");
    assert_eq!(c.num_partitions, 3, "file beats default");
    assert_eq!(c.retention_ms, 5);
    assert_eq!(c.segment_size_bytes, 1 << 30, "default when unset");
}

#[test]
fn flag_forms_and_boolean_flags() {
    let c = config(&["--port=19092", "--auto-create-topics", "false"], &[]);
    assert_eq!(c.port, 19092);
    assert!(!c.auto_create_topics);
    let c = config(&["--auto-create-topics", "--port", "1"], &[]);
    assert!(c.auto_create_topics);
    assert_eq!(c.port, 1);
    let c = config(&["--auto-create-topics=no"], &[]);
    assert!(!c.auto_create_topics);
}

#[test]
fn sizes_accept_suffixes() {
    assert_eq!(
        config(&["--segment-size", "64MiB"], &[]).segment_size_bytes,
        64 << 20
    );
    assert_eq!(
        config(&["--segment-size", "2mb"], &[]).segment_size_bytes,
        2_000_000
    );
    assert_eq!(
        config(&["--segment-size", "4096"], &[]).segment_size_bytes,
        4096
    );
    assert_eq!(
        config(&["--segment-size", "1G"], &[]).segment_size_bytes,
        1 << 30
    );
    let e = error(&["--segment-size", "12XB"], &[]);
    assert!(e.contains("segment_size") && e.contains("12XB"), "{e}");
    let e = error(&["--segment-size", "3GiB"], &[]);
    assert!(
        e.contains("segment_size") && e.contains("2147483647"),
        "{e}"
    );
    let e = error(&["--segment-size", "99999999999999999999"], &[]);
    assert!(e.contains("segment_size"), "{e}");
}

#[test]
fn segment_size_takes_what_help_says() {
    let segment = |v: &str| config(&["--segment-size", v], &[]).segment_size_bytes;
    assert_eq!(segment("1024"), 1024);
    assert_eq!(segment("1KiB"), 1024);
    assert_eq!(segment("1k"), 1024);
    assert_eq!(segment("2147483647"), 2_147_483_647);
    assert_eq!(segment("2047MiB"), 2047 << 20);
    assert_eq!(segment("2GB"), 2_000_000_000);
    assert_eq!(segment("1gib"), 1 << 30);
    for above in ["2GiB", "2g", "2147483648", "1T", "1TiB", "1TB", "3GB"] {
        let e = error(&["--segment-size", above], &[]);
        assert!(
            e.contains("segment_size") && e.contains("must be from 1024 to 2147483647"),
            "{above}: {e}"
        );
    }
    let e = error(&["--segment-size", "1023"], &[]);
    assert!(e.contains("must be from 1024 to 2147483647"), "{e}");
    let help = help();
    assert!(
        help.contains("from 1024 to 2147483647 bytes") && help.contains("not 2GiB"),
        "--help states the bounds"
    );
}

#[test]
fn advertised_host_defaults_to_a_connectable_address() {
    let host = |bind: &str| config(&["--bind-address", bind], &[]).advertised_host;
    assert_eq!(host("0.0.0.0"), "127.0.0.1");
    assert_eq!(host("::"), "127.0.0.1");
    assert_eq!(host("::1"), "::1");
    assert_eq!(host("127.0.0.2"), "127.0.0.2");
    let c = config(
        &["--bind-address", "::", "--advertised-host", "kafka.local"],
        &[],
    );
    assert_eq!(c.advertised_host, "kafka.local");
    let c = config(&[], &[("BLAZEMQ_ADVERTISED_HOST", "[::1]")]);
    assert_eq!(c.advertised_host, "::1");
    assert!(error(&["--advertised-host", "a b"], &[]).contains("advertised_host"));
}

#[test]
fn bad_values_name_the_setting_the_value_and_the_source() {
    let e = error(&["--port", "abc"], &[]);
    assert!(
        e.contains("port") && e.contains("abc") && e.contains("--port"),
        "{e}"
    );
    let e = error(&[], &[("BLAZEMQ_PORT", "70000")]);
    assert!(e.contains("70000") && e.contains("BLAZEMQ_PORT"), "{e}");
    let e = error(&["--bind-address", "localhost"], &[]);
    assert!(e.contains("bind_address"), "{e}");
    let e = error(&["--replication-factor", "3"], &[]);
    assert!(e.contains("replication_factor"), "{e}");
    assert!(error(&["--num-partitions", "0"], &[]).contains("num_partitions"));
    assert!(error(&["--retention-ms", "-2"], &[]).contains("retention_ms"));
    assert!(error(&["--auto-create-topics=maybe"], &[]).contains("auto_create_topics"));
    assert!(error(&["--num-io-threads", "0"], &[]).contains("num_io_threads"));
    let e = error(&["--log-flush-offset-checkpoint-interval-ms", "-1"], &[]);
    assert!(e.contains("log_flush_offset_checkpoint_interval_ms"), "{e}");
}

#[test]
fn an_overridden_bad_value_is_not_an_error() {
    let c = config(&["--port", "1234"], &[("BLAZEMQ_PORT", "junk")]);
    assert_eq!(c.port, 1234);
}

#[test]
fn compatibility_settings_are_accepted() {
    let c = config(
        &[
            "--num-io-threads",
            "8",
            "--message-pool-blocks",
            "16",
            "--message-pool-block-size",
            "8KiB",
            "--replication-factor",
            "-1",
        ],
        &[],
    );
    assert_eq!(c.num_io_threads, 8);
    assert_eq!(c.message_pool_blocks, 16);
    assert_eq!(c.message_pool_block_size_bytes, 8192);
    // The block count no longer bounds output: the default bound stands.
    assert_eq!(c.connection_output_bytes_max, 4 << 20);
}

#[test]
fn connection_output_bound_from_every_source_and_checked() {
    let c = config(&["--max-connection-output-bytes", "256KiB"], &[]);
    assert_eq!(c.connection_output_bytes_max, 256 << 10);
    let env = [("BLAZEMQ_MAX_CONNECTION_OUTPUT_BYTES", "8MB")];
    assert_eq!(config(&[], &env).connection_output_bytes_max, 8_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(dir.path(), "max_connection_output_bytes: 1MiB\n");
    let file = file.to_str().expect("utf-8 temp path");
    let c = config(&["--config", file], &[]);
    assert_eq!(c.connection_output_bytes_max, 1 << 20);
    for bad in ["1KiB", "2GiB", "lots"] {
        let e = error(&["--max-connection-output-bytes", bad], &[]);
        assert!(
            e.contains("max_connection_output_bytes") && e.contains(bad),
            "{e}"
        );
    }
}

#[test]
fn unknown_flags_and_stray_arguments_are_refused() {
    let e = error(&["--prot", "1"], &[]);
    assert!(e.contains("--prot"), "{e}");
    assert!(error(&["-x"], &[]).contains("-x"));
    assert!(error(&["extra"], &[]).contains("extra"));
    assert!(error(&["--port"], &[]).contains("--port"));
}

#[test]
fn unknown_yaml_keys_are_refused_with_the_key_and_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(dir.path(), "port: 1\nlog_dirs: /x\n");
    let e = error(&["--config", file.to_str().expect("utf-8 temp path")], &[]);
    assert!(e.contains("log_dirs") && e.contains("blazemq.yaml"), "{e}");
}

#[test]
fn yaml_values_of_every_scalar_kind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(
        dir.path(),
        "bind_address: \"::1\"\nauto_create_topics: false\nsegment_size: 64MiB\nlog_dir: /var/x\n",
    );
    let c = config(&["--config", file.to_str().expect("utf-8 temp path")], &[]);
    assert_eq!(c.bind_address.to_string(), "::1");
    assert!(!c.auto_create_topics);
    assert_eq!(c.segment_size_bytes, 64 << 20);
    assert_eq!(c.log_dir, PathBuf::from("/var/x"));

    let nested = yaml(dir.path(), "port:\n  - 1\n");
    let e = error(
        &["--config", nested.to_str().expect("utf-8 temp path")],
        &[],
    );
    assert!(e.contains("port"), "{e}");

    let empty = yaml(dir.path(), "");
    config(&["--config", empty.to_str().expect("utf-8 temp path")], &[]);

    let broken = yaml(dir.path(), "port: [1\n");
    let e = error(
        &["--config", broken.to_str().expect("utf-8 temp path")],
        &[],
    );
    assert!(e.contains("cannot read config file"), "{e}");

    let list = yaml(dir.path(), "- port\n");
    assert!(error(&["--config", list.to_str().expect("utf-8 temp path")], &[]).contains("mapping"));
}

#[test]
fn a_commented_quoted_windows_file_loads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(
        dir.path(),
        "\u{feff}# broker\r\n---\r\nport: 0x2384 # 9092\r\n'log_dir': \"/var/lib/blazemq: 1\"\r\n\
         auto_create_topics: FALSE\r\nadvertised_host: kafka.local\r\n...\r\n",
    );
    let c = config(&["--config", file.to_str().expect("utf-8 temp path")], &[]);
    assert_eq!(c.port, 9092);
    assert_eq!(c.log_dir, PathBuf::from("/var/lib/blazemq: 1"));
    assert!(!c.auto_create_topics);
    assert_eq!(c.advertised_host, "kafka.local");
}

#[test]
fn a_setting_without_a_value_in_the_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    for text in [
        "port: 1
log_dir:
",
        "log_dir: ~
",
        "log_dir: null # unset
",
    ] {
        let file = yaml(dir.path(), text);
        let e = error(&["--config", file.to_str().expect("utf-8 temp path")], &[]);
        assert!(
            e.contains("log_dir") && e.contains("expected a single value"),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn yaml_the_reader_refuses_names_the_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (text, line) in [
        (
            "port: 1
port: 2
",
            "line 2",
        ),
        (
            "port: 1
log_dir: &a /x
",
            "line 2",
        ),
        (
            "# c
port: 1
broker_id:1
",
            "line 3",
        ),
        (
            "port: 1
---
port: 2
",
            "line 2",
        ),
        (
            "log_dir: |
  /x
",
            "line 1",
        ),
        ("log_dir: \"/x\n", "line 1"),
    ] {
        let file = yaml(dir.path(), text);
        let e = error(&["--config", file.to_str().expect("utf-8 temp path")], &[]);
        assert!(
            e.contains("cannot read config file") && e.contains("blazemq.yaml") && e.contains(line),
            "{text:?}: {e}"
        );
    }
    let scalar = yaml(
        dir.path(),
        "just a scalar
",
    );
    let e = error(
        &["--config", scalar.to_str().expect("utf-8 temp path")],
        &[],
    );
    assert!(e.contains("mapping"), "{e}");
}

#[test]
fn a_config_file_that_is_not_utf8_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("blazemq.yaml");
    std::fs::write(&path, b"log_dir: /x\xff\n").expect("write yaml");
    let e = error(&["--config", path.to_str().expect("utf-8 temp path")], &[]);
    assert!(e.contains("cannot read config file"), "{e}");
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let e = error(&["--config", "/nonexistent/blazemq.yaml"], &[]);
    assert!(e.contains("/nonexistent/blazemq.yaml"), "{e}");
}

#[test]
fn config_file_from_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(dir.path(), "port: 4444\n");
    let c = config(
        &[],
        &[("BLAZEMQ_CONFIG", file.to_str().expect("utf-8 temp path"))],
    );
    assert_eq!(c.port, 4444);
}

#[test]
fn the_test_tools_variables_and_other_programs_variables_are_ignored() {
    let env = [
        ("BLAZEMQ_BIN", "/usr/bin/blazemq"),
        ("BLAZEMQ_BOOTSTRAP", "127.0.0.1:9092"),
        ("BLAZEMQ_CRASH_SEED", "7"),
        ("KAFKA_PORT", "1"),
        ("blazemq_port", "1"),
    ];
    assert_eq!(config(&[], &env).port, 9092);
}

#[test]
fn an_unknown_blazemq_variable_is_refused_naming_it() {
    for name in [
        "BLAZEMQ_PROT",
        "BLAZEMQ_",
        "BLAZEMQ_port",
        "BLAZEMQ_LOG_DIRS",
    ] {
        let e = error(&[], &[(name, "1")]);
        assert_eq!(
            e,
            format!("unknown environment variable '{name}' (see --help for the settings)")
        );
    }
    let e = error(&["--port", "1"], &[("BLAZEMQ_PROT", "1")]);
    assert!(e.contains("BLAZEMQ_PROT"), "a flag does not hide it: {e}");
    assert_eq!(
        run(&["--help"], &[("BLAZEMQ_PROT", "1")]).expect("help"),
        Command::Help
    );
}

#[test]
fn help_and_version() {
    assert_eq!(run(&["--help"], &[]).expect("help"), Command::Help);
    assert_eq!(run(&["-h"], &[]).expect("help"), Command::Help);
    assert_eq!(run(&["-V"], &[]).expect("version"), Command::Version);
}

#[test]
fn retention_and_roll_settings_have_kafkas_bounds() {
    let c = config(
        &["--log-segment-ms", "1000", "--log-retention-bytes", "-2"],
        &[("BLAZEMQ_OFFSETS_RETENTION_MINUTES", "1")],
    );
    assert_eq!((c.segment_ms, c.retention_bytes), (1000, -2));
    assert_eq!(c.offsets_retention_minutes, 1);
    for (flag, value) in [
        ("--log-segment-ms", "0"),
        ("--offsets-retention-minutes", "0"),
        ("--offsets-retention-check-interval-ms", "0"),
    ] {
        let e = error(&[flag, value], &[]);
        assert!(e.contains(&flag[2..].replace('-', "_")), "{e}");
    }
}

#[test]
fn log_level_and_format_from_every_source_and_checked() {
    use crate::logging::{Format, Level};
    let c = config(&[], &[]);
    assert_eq!((c.log_level, c.log_format), (Level::Info, Format::Text));
    let c = config(&["--log-level", "debug", "--log-format", "json"], &[]);
    assert_eq!((c.log_level, c.log_format), (Level::Debug, Format::Json));
    let env = [
        ("BLAZEMQ_LOG_LEVEL", "WARN"),
        ("BLAZEMQ_LOG_FORMAT", "json"),
    ];
    assert_eq!(config(&[], &env).log_level, Level::Warn);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(dir.path(), "log_level: trace\nlog_format: text\n");
    let file = file.to_str().expect("utf-8 temp path");
    let c = config(&["--config", file], &env);
    assert_eq!(
        (c.log_level, c.log_format),
        (Level::Warn, Format::Json),
        "env beats file"
    );
    assert_eq!(config(&["--config", file], &[]).log_level, Level::Trace);
    let e = error(&["--log-level", "loud"], &[]);
    assert!(e.contains("log_level") && e.contains("loud"), "{e}");
    let e = error(&["--log-format", "xml"], &[]);
    assert!(e.contains("log_format") && e.contains("xml"), "{e}");
}

/// The example file at the repository root: every setting in it, each at its default.
const EXAMPLE_YAML: &str = include_str!("../../../blazemq.yaml");

#[test]
fn the_example_file_lists_every_setting_at_its_default() {
    let entries = sources::yaml_settings(EXAMPLE_YAML, Path::new("blazemq.yaml"))
        .expect("the example file loads");
    for s in SETTINGS {
        let count = entries.iter().filter(|(e, _)| e.key == s.key).count();
        assert_eq!(count, 1, "{} must be in blazemq.yaml once", s.key);
        let at = EXAMPLE_YAML
            .find(&format!("\n{}:", s.key))
            .expect("a listed key starts a line");
        let line_before = EXAMPLE_YAML[..at].rsplit('\n').next().unwrap_or_default();
        assert!(
            line_before.starts_with('#'),
            "{} has a comment above it",
            s.key
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(dir.path(), EXAMPLE_YAML);
    let file = file.to_str().expect("utf-8 temp path");
    assert_eq!(config(&["--config", file], &[]), config(&[], &[]));
}

#[test]
fn log_cleanup_policy_is_a_policy_list() {
    use blazemq_core::broker::CleanupPolicy;
    assert_eq!(config(&[], &[]).log_cleanup_policy, CleanupPolicy::Delete);
    let c = config(&["--log-cleanup-policy", "compact"], &[]);
    assert_eq!(c.log_cleanup_policy, CleanupPolicy::Compact);
    let env = [("BLAZEMQ_LOG_CLEANUP_POLICY", "delete,compact")];
    assert_eq!(
        config(&[], &env).log_cleanup_policy,
        CleanupPolicy::CompactDelete
    );
    let e = error(&["--log-cleanup-policy", "forever"], &[]);
    assert!(
        e.contains("log_cleanup_policy") && e.contains("forever"),
        "{e}"
    );
}

#[test]
fn faults_are_rules_separated_by_semicolons() {
    assert!(config(&[], &[]).faults.is_empty());
    let c = config(
        &[
            "--faults",
            "api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3; api=Fetch,delay_ms=200;",
        ],
        &[],
    );
    let texts: Vec<String> = c.faults.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3",
            "api=Fetch,delay_ms=200"
        ]
    );
    let env = [("BLAZEMQ_FAULTS", "close_after=1")];
    assert_eq!(config(&[], &env).faults.len(), 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = yaml(dir.path(), "faults: \"api=JoinGroup,error=15,count=2\"\n");
    let file = file.to_str().expect("utf-8 temp path");
    assert_eq!(config(&["--config", file], &[]).faults.len(), 1);
    let e = error(
        &["--faults", "api=Produce,error=6;api=Produce,error=NOPE"],
        &[],
    );
    assert!(
        e.contains("faults") && e.contains("rule 2") && e.contains("unknown error `NOPE`"),
        "{e}"
    );
}
