//! The plugin seam: what every plugin, present and future, must respect.
//! The spec's tags are `core` and plugin ids; migration versions are unique
//! across sets; core code names no plugin; each plugin's configuration
//! section is parsed and checked by the plugin.

use std::path::Path;

use gatehouse_server::config::Config;
use gatehouse_server::plugin::{section_name, PluginRegistry};
use gatehouse_server::plugins::catalog;
use serde_json::Value;

fn full_spec() -> Value {
    let config = Config {
        plugins: catalog().iter().map(|p| p.id().to_string()).collect(),
        ..Config::default()
    };
    serde_json::from_str(&gatehouse_server::openapi_spec(&config).unwrap()).unwrap()
}

/// Every operation: an id, one tag naming its plugin, a summary, and
/// documented error responses that all use the shared error schema (or,
/// on a path a plugin declares as OAuth's, the OAuth error schema).
#[test]
fn every_operation_is_documented() {
    let spec = full_spec();
    let docs: Vec<&str> = gatehouse_server::core::routes::ROUTE_DOCS
        .iter()
        .chain(gatehouse_server::social::routes::ROUTE_DOCS)
        .chain(catalog().iter().flat_map(|p| p.route_docs().iter()))
        .map(|d| d.operation_id)
        .collect();
    let oauth_paths: Vec<&str> = catalog()
        .iter()
        .flat_map(|p| p.oauth_paths().iter().copied())
        .collect();
    let mut ids = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            ids.push(id.to_string());
            assert!(docs.contains(&id), "{id}: no RouteDoc");
            let tags = op["tags"].as_array().unwrap();
            assert_eq!(tags.len(), 1, "{id}: one tag");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id}: summary"
            );
            let responses = op["responses"].as_object().unwrap();
            let errors: Vec<_> = responses
                .iter()
                .filter(|(s, _)| s.as_str() >= "400")
                .collect();
            assert!(
                errors.iter().any(|(s, _)| *s == "429"),
                "{id}: 429 documented"
            );
            // One error schema per operation (generators type the error
            // once): the shared one, OAuth's on a path a plugin declares as
            // OAuth's, or their union where an operation answers in both.
            let schema_of = |r: &serde_json::Value| {
                r["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("#/components/schemas/")
                    .to_string()
            };
            let schema_name = schema_of(errors[0].1);
            let allowed = if oauth_paths.contains(&path.as_str()) {
                ["OAuthErrorBody", "ErrorOrOAuthErrorBody"]
            } else {
                ["ErrorBody", "ErrorOrOAuthErrorBody"]
            };
            assert!(
                allowed.contains(&schema_name.as_str()),
                "{id}: {schema_name}"
            );
            let heading = match schema_name.as_str() {
                "ErrorBody" => "Error codes: `",
                "OAuthErrorBody" => "OAuth errors (`error`): `",
                _ => "Error codes (`code`) and OAuth errors (`error`): `",
            };
            for (status, r) in errors {
                assert!(
                    r["description"].as_str().unwrap().starts_with(heading),
                    "{id} {status}"
                );
                assert_eq!(schema_of(r), schema_name, "{id} {status}");
            }
        }
    }
    for d in &docs {
        assert!(
            ids.iter().any(|i| i == d),
            "RouteDoc {d} names no operation"
        );
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "operationIds are unique");
}

#[test]
fn session_routes_carry_security_and_401() {
    let spec = full_spec();
    let op = &spec["paths"]["/update-user"]["post"];
    assert_eq!(op["security"][0]["apiKeyCookie"], serde_json::json!([]));
    assert_eq!(op["security"][1]["bearerAuth"], serde_json::json!([]));
    assert!(op["responses"]["401"]["description"]
        .as_str()
        .unwrap()
        .contains("`UNAUTHORIZED`"));
    assert!(op["responses"]["400"]["description"]
        .as_str()
        .unwrap()
        .contains("`USERNAME_IS_ALREADY_TAKEN`"));
    // Public operations say so: callable without any credentials.
    assert_eq!(
        spec["paths"]["/ok"]["get"]["security"],
        serde_json::json!([])
    );
    // A nullable wrapper of an object schema says it is an object.
    let ok = &spec["paths"]["/get-session"]["get"]["responses"]["200"]["content"];
    let schema = ok.as_object().unwrap().values().next().unwrap()["schema"].clone();
    assert_eq!(schema["nullable"], true);
    assert_eq!(schema["type"], "object");
    assert_eq!(
        spec["components"]["securitySchemes"]["apiKeyCookie"]["in"],
        "cookie"
    );
}

/// Every operation's tag is `core` or the id of a plugin that is enabled,
/// and a plugin's operations disappear with it.
#[test]
fn tags_are_core_or_an_enabled_plugin_id() {
    let ids: Vec<String> = catalog().iter().map(|p| p.id().to_string()).collect();
    for enabled in [ids.clone(), vec![ids[0].clone()], Vec::new()] {
        let config = Config {
            plugins: enabled.clone(),
            ..Config::default()
        };
        let spec: Value =
            serde_json::from_str(&gatehouse_server::openapi_spec(&config).unwrap()).unwrap();
        for (path, ops) in spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let tag = op["tags"][0].as_str().unwrap();
                assert!(
                    tag == "core" || enabled.iter().any(|id| id == tag),
                    "{method} {path}: tag {tag:?} is neither core nor one of {enabled:?}"
                );
            }
        }
        let declared: Vec<&str> = spec["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        for tag in declared {
            assert!(tag == "core" || enabled.iter().any(|id| id == tag), "{tag}");
        }
    }
}

#[test]
fn migration_versions_are_unique_across_sets() {
    let mut seen = std::collections::HashMap::new();
    let plugins = catalog();
    let sets = std::iter::once(("core", &gatehouse_server::db::CORE_MIGRATIONS)).chain(
        plugins
            .iter()
            .filter_map(|p| p.migrations().map(|m| (p.id(), m))),
    );
    let mut count = 0;
    for (owner, set) in sets {
        for version in set.versions() {
            count += 1;
            if let Some(first) = seen.insert(version.clone(), owner) {
                panic!("migration {version} is in both {first} and {owner}");
            }
        }
    }
    assert!(count >= 8, "only {count} migrations found");
}

/// Outside `src/plugins/`, no code names a plugin: no quoted id, no path
/// into a plugin's module, no plugin section.
#[test]
fn core_names_no_plugin() {
    // (file, needle): words that are a plugin's id but mean something else there.
    const NOT_A_PLUGIN: &[(&str, &str)] = &[
        // Discord's, GitLab's and X's profile JSON has a `username` member.
        ("social/providers.rs", "\"username\""),
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path == src.join("plugins") {
                // The declaration file is the one place that lists them.
                files.push(path.join("mod.rs"));
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let is_catalog = file.ends_with("plugins/mod.rs");
        for p in catalog() {
            let snake = section_name(p.id());
            let needles = [
                format!("\"{}\"", p.id()),
                format!("plugins::{snake}"),
                format!("[{snake}]"),
            ];
            for needle in &needles {
                let other_meaning = NOT_A_PLUGIN
                    .iter()
                    .any(|(f, n)| file.ends_with(f) && n == needle);
                if !is_catalog && !other_meaning && text.contains(needle.as_str()) {
                    found.push(format!("{} names {needle}", file.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
    assert!(files.len() > 20, "walked {} files", files.len());
}

#[test]
fn example_file_parses_and_matches_defaults() {
    let text = include_str!("../../gatehouse.example.toml");
    let c = Config::from_toml(text, &catalog()).expect("gatehouse.example.toml parses");
    let d = Config::default();
    assert_eq!(c.listen, d.listen);
    assert_eq!(c.session.expires_in, d.session.expires_in);
    assert_eq!(c.rate_limit.window, d.rate_limit.window);
    assert_eq!(c.plugins, d.plugins);
    // Every plugin section in the example (commented out, as their
    // plugins are off by default) is valid once uncommented.
    let (_, sections) = text.split_once("# ---- plugin sections ----").unwrap();
    let uncommented: String = sections
        .lines()
        .filter_map(|l| l.strip_prefix("# ").or_else(|| l.strip_prefix('#')))
        .filter(|l| l.starts_with('[') || l.contains(" = ") || l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut all =
        Config::from_toml(&uncommented, &catalog()).expect("the example's plugin sections parse");
    assert!(
        all.plugin_sections.contains_key("two_factor"),
        "{uncommented}"
    );
    all.base_url = Some("http://localhost:3000".into());
    all.plugins = catalog().iter().map(|p| p.id().to_string()).collect();
    PluginRegistry::configure(&catalog(), &all).expect("the example's plugin sections are valid");
}
#[test]
fn unknown_keys_and_sections_are_named_with_the_choices() {
    let catalog = catalog();
    let err = Config::from_toml("[two_factr]\nissuer = \"x\"\n", &catalog).unwrap_err();
    assert!(
        err.contains("two_factr") && err.contains("session") && err.contains("two_factor"),
        "{err}"
    );
    let mut c = Config::from_toml("[two_factor]\nisuer = \"x\"\n", &catalog).unwrap();
    c.plugins.push("two-factor".into());
    let err = PluginRegistry::configure(&catalog, &c)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("[two_factor]") && err.contains("isuer") && err.contains("issuer"),
        "{err}"
    );
}

#[test]
fn describe_is_toml_with_secrets_redacted() {
    let catalog = catalog();
    let mut c = Config::from_toml(
        "secret = \"0123456789abcdef0123456789abcdef-very-secret\"\n\
         database_url = \"postgres://u:hunter2@db/x\"\n\
         plugins = [\"two-factor\"]\n[two_factor]\nissuer = \"Acme\"\n",
        &catalog,
    )
    .unwrap();
    c.mail.smtp_url = Some("smtp://mailer:pa55@mail:25".into());
    let registry = PluginRegistry::configure(&catalog, &c).unwrap();
    let text = c.describe(&registry);
    for secret in ["very-secret", "hunter2", "pa55"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    let back: toml::Table = toml::from_str(&text).expect("valid TOML");
    assert_eq!(back["two_factor"]["issuer"].as_str(), Some("Acme"));
    assert_eq!(back["two_factor"]["allowed_attempts"].as_integer(), Some(5));
    assert_eq!(back["secret"].as_str(), Some("<redacted>"));
}
