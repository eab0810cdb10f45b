//! Plugin settings: each plugin owns one section of the configuration file,
//! named after its id (`my-plugin` reads `[my_plugin]`), parses it into its
//! own type at start-up and reads that value back at request time through
//! [`crate::state::AppState::settings`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The configuration section of a plugin id: `my-plugin` -> `my_plugin`.
pub fn section_name(id: &str) -> String {
    id.replace('-', "_")
}

/// Parses a plugin's section into `T` (defaults when absent). `T` should
/// use `#[serde(default, deny_unknown_fields)]`, so that an unknown key is an
/// error naming the key and the valid ones.
pub fn parse_section<T: DeserializeOwned + Default>(
    section: Option<&toml::Value>,
) -> Result<T, String> {
    match section {
        None => Ok(T::default()),
        Some(value) => T::deserialize(value.clone()).map_err(|e| e.message().to_string()),
    }
}

/// A plugin's parsed settings and their printable form.
#[derive(Clone)]
pub struct Settings {
    value: Arc<dyn Any + Send + Sync>,
    type_id: TypeId,
    /// The effective values, secrets already redacted by the type's
    /// `Serialize` (for `gatehouse info`).
    shown: toml::Table,
}

impl Settings {
    pub fn new<T: Serialize + Send + Sync + 'static>(value: T) -> Self {
        let shown = match toml::Value::try_from(&value) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        Settings {
            value: Arc::new(value),
            type_id: TypeId::of::<T>(),
            shown,
        }
    }
}

/// Every enabled plugin's settings, by type (what code reads) and by plugin
/// id (what `gatehouse info` prints).
#[derive(Clone, Default)]
pub struct SettingsMap {
    by_type: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    by_plugin: Vec<(&'static str, toml::Table)>,
}

impl SettingsMap {
    pub(crate) fn insert(&mut self, plugin: &'static str, s: Settings) {
        self.by_type.insert(s.type_id, s.value);
        self.by_plugin.push((plugin, s.shown));
    }

    /// The settings of type `T`, if the plugin that owns them is enabled.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.by_type
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
    }

    /// `(plugin id, effective settings)` in registration order.
    pub fn shown(&self) -> &[(&'static str, toml::Table)] {
        &self.by_plugin
    }
}
