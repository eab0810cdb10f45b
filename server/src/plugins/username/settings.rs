//! The `[username]` configuration section.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsernameSettings {
    pub min_length: usize,
    pub max_length: usize,
}

impl Default for UsernameSettings {
    fn default() -> Self {
        UsernameSettings {
            min_length: 3,
            max_length: 30,
        }
    }
}
