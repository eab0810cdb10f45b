//! [`declare_plugins!`](crate::declare_plugins): the one declaration of the
//! built-in plugins, from which their modules, `catalog()`, the route type
//! `PluginApis` and `plugin_apis()` all follow.

/// Declares the built-in plugins, one line each:
/// `module: PluginValue` or `module: PluginValue => RoutesApi`.
/// Expands to `pub mod module;` for each, `catalog()` (every plugin value,
/// in order), and `PluginApis`/`plugin_apis()` (each routes API wrapped in
/// [`Gated`](crate::plugin::Gated), nested in pairs so that any number fits
/// poem-openapi's tuple implementations).
#[macro_export]
macro_rules! declare_plugins {
    ($($module:ident : $plugin:ident $(=> $api:ident)?),* $(,)?) => {
        $(pub mod $module;)*

        /// Every built-in plugin. Which of them run is decided by configuration.
        pub fn catalog() -> Vec<std::sync::Arc<dyn $crate::plugin::Plugin>> {
            vec![$(std::sync::Arc::new($module::$plugin)),*]
        }

        /// Every plugin's routes, in declaration order.
        pub type PluginApis = $crate::__plugin_apis_type!($($module $(: $api)?,)*);

        pub fn plugin_apis() -> PluginApis {
            $crate::__plugin_apis_value!($($module $(: $api)?,)*)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_apis_type {
    () => { () };
    ($module:ident, $($rest:tt)*) => { $crate::__plugin_apis_type!($($rest)*) };
    ($module:ident : $api:ident, $($rest:tt)*) => {
        ($crate::plugin::Gated<$module::$api>, $crate::__plugin_apis_type!($($rest)*))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_apis_value {
    () => { () };
    ($module:ident, $($rest:tt)*) => { $crate::__plugin_apis_value!($($rest)*) };
    ($module:ident : $api:ident, $($rest:tt)*) => {
        ($crate::plugin::Gated($module::$api), $crate::__plugin_apis_value!($($rest)*))
    };
}
