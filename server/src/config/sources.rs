//! Where setting values come from: flags, `BLAZEMQ_*` variables, the YAML file. Each layer yields
//! raw strings; the winner for each key is kept with its source, for error messages.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::yaml::{self, Value};
use super::{ConfigError, SETTINGS, Setting, setting_by_key};

/// Largest config file read; a settings file is a few hundred bytes.
const CONFIG_FILE_BYTES_MAX: u64 = 1 << 20;

/// Prefix of the settings' environment variables: any other variable with it is a typo.
const ENV_PREFIX: &str = "BLAZEMQ_";

/// `BLAZEMQ_*` variables that are not settings: the config file, and those of this project's
/// test and benchmark tools, which the brokers they start inherit.
const ENV_NOT_SETTINGS: &[&str] = &[
    "BLAZEMQ_CONFIG",
    "BLAZEMQ_BIN",
    "BLAZEMQ_BOOTSTRAP",
    "BLAZEMQ_TEST_BROKER_CMD",
    "BLAZEMQ_CRASH_SEED",
    "BLAZEMQ_BENCH_INDEX_ENTRIES",
];

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The YAML file.
    File(PathBuf),
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(path) => write!(f, "in {}", path.display()),
            Source::Env(name) => write!(f, "from environment variable {name}"),
            Source::Flag(flag) => write!(f, "from --{flag}"),
        }
    }
}

/// The winning raw value of each setting that was given somewhere.
#[derive(Debug, Default)]
pub struct Layers {
    values: BTreeMap<&'static str, (String, Source)>,
}

impl Layers {
    /// The raw value of `key` and its source, or the default.
    pub fn get(&self, setting: &'static Setting) -> (&str, Source) {
        match self.values.get(setting.key) {
            Some((value, source)) => (value, source.clone()),
            None => (setting.default, Source::Default),
        }
    }

    fn set(&mut self, setting: &'static Setting, value: String, source: Source) {
        self.values.insert(setting.key, (value, source));
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Gathered {
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// Run with these values.
    Layers(Layers),
}

/// Collect the values of every layer, highest precedence last so it overwrites.
pub fn gather(
    args: impl IntoIterator<Item = OsString>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Gathered, ConfigError> {
    let flags = match parse_flags(args)? {
        Flags::Help => return Ok(Gathered::Help),
        Flags::Version => return Ok(Gathered::Version),
        Flags::Values { config, values } => (config, values),
    };
    let (config_file, flag_values) = flags;
    let env = blazemq_variables(env)?;
    let env = |name: &str| env.get(name).cloned();
    let config_file = match config_file {
        Some(path) => Some(path),
        None => env("BLAZEMQ_CONFIG").map(PathBuf::from),
    };
    let mut layers = Layers::default();
    if let Some(path) = config_file {
        for (setting, value) in read_yaml(&path)? {
            layers.set(setting, value, Source::File(path.clone()));
        }
    }
    for setting in SETTINGS {
        if let Some(raw) = env(setting.env) {
            let value = utf8(raw, setting, Source::Env(setting.env))?;
            layers.set(setting, value, Source::Env(setting.env));
        }
    }
    for (setting, value) in flag_values {
        layers.set(setting, value, Source::Flag(setting.flag));
    }
    Ok(Gathered::Layers(layers))
}

/// The `BLAZEMQ_*` variables of `env` by name; one that is neither a setting nor in
/// [`ENV_NOT_SETTINGS`] is refused as an unknown flag is.
fn blazemq_variables(
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<BTreeMap<String, OsString>, ConfigError> {
    let mut variables = BTreeMap::new();
    for (name, value) in env {
        let lossy = name.to_string_lossy();
        if !lossy.starts_with(ENV_PREFIX) {
            continue;
        }
        let known = SETTINGS.iter().any(|s| s.env == lossy) || ENV_NOT_SETTINGS.contains(&&*lossy);
        let Some(name) = name.to_str().filter(|_| known) else {
            return Err(ConfigError::UnknownEnv(lossy.into_owned()));
        };
        variables.insert(name.to_owned(), value);
    }
    Ok(variables)
}

enum Flags {
    Help,
    Version,
    Values {
        config: Option<PathBuf>,
        values: Vec<(&'static Setting, String)>,
    },
}

fn parse_flags(args: impl IntoIterator<Item = OsString>) -> Result<Flags, ConfigError> {
    use lexopt::Arg;
    let mut parser = lexopt::Parser::from_args(args);
    let mut config = None;
    let mut values = Vec::new();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Arg::Short('h') | Arg::Long("help") => return Ok(Flags::Help),
            Arg::Short('V') | Arg::Long("version") => return Ok(Flags::Version),
            Arg::Long("config") => config = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Arg::Long(name) => {
                let name = name.to_owned();
                let Some(setting) = SETTINGS.iter().find(|s| s.flag == name) else {
                    return Err(ConfigError::UnknownFlag(format!("--{name}")));
                };
                let raw = flag_value(&mut parser, setting)?;
                values.push((setting, utf8(raw, setting, Source::Flag(setting.flag))?));
            }
            Arg::Short(c) => return Err(ConfigError::UnknownFlag(format!("-{c}"))),
            Arg::Value(v) => {
                return Err(ConfigError::Usage(format!(
                    "unexpected argument '{}' (settings are given as --name value)",
                    v.to_string_lossy()
                )));
            }
        }
    }
    Ok(Flags::Values { config, values })
}

/// A flag's value; a boolean flag alone (`--auto-create-topics`) means true.
fn flag_value(
    parser: &mut lexopt::Parser,
    setting: &'static Setting,
) -> Result<OsString, ConfigError> {
    if setting.value != "BOOL" {
        return parser
            .value()
            .map_err(|e| ConfigError::Usage(format!("--{} needs a value: {e}", setting.flag)));
    }
    if let Some(value) = parser.optional_value() {
        return Ok(value);
    }
    let next_is_bool = |arg: &std::ffi::OsStr| arg.to_str().is_some_and(|s| parse_bool(s).is_ok());
    let next = parser
        .raw_args()
        .ok()
        .and_then(|mut raw| raw.next_if(next_is_bool));
    Ok(next.unwrap_or_else(|| OsString::from("true")))
}

fn usage(e: lexopt::Error) -> ConfigError {
    ConfigError::Usage(e.to_string())
}

fn utf8(raw: OsString, setting: &'static Setting, source: Source) -> Result<String, ConfigError> {
    raw.into_string().map_err(|raw| ConfigError::BadValue {
        key: setting.key,
        source,
        value: raw.to_string_lossy().into_owned(),
        reason: "not valid UTF-8".into(),
    })
}

/// The settings in a YAML file: a flat mapping of keys to scalars (the subset `yaml` reads).
/// Empty files are allowed.
fn read_yaml(path: &Path) -> Result<Vec<(&'static Setting, String)>, ConfigError> {
    let file_error = |reason: String| ConfigError::File {
        file: path.to_path_buf(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| file_error(e.to_string()))?
        .len();
    if size > CONFIG_FILE_BYTES_MAX {
        return Err(file_error(format!(
            "{size} bytes is more than the {CONFIG_FILE_BYTES_MAX} a config file may have"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    yaml_settings(&text, path)
}

/// The settings in the YAML `text` of the file at `path` (named in errors).
pub(super) fn yaml_settings(
    text: &str,
    path: &Path,
) -> Result<Vec<(&'static Setting, String)>, ConfigError> {
    let entries = yaml::parse(text).map_err(|e| ConfigError::File {
        file: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let Some(setting) = setting_by_key(&entry.key) else {
            return Err(ConfigError::UnknownKey {
                key: entry.key,
                file: path.to_path_buf(),
            });
        };
        let Value::Scalar(value) = entry.value else {
            return Err(ConfigError::BadValue {
                key: setting.key,
                source: Source::File(path.to_path_buf()),
                value: "null".into(),
                reason: format!("expected a single value (line {})", entry.line),
            });
        };
        out.push((setting, value));
    }
    Ok(out)
}

/// `true`/`false` and the usual spellings of them.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}
