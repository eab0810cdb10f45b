//! The mobile façade (`bindings/mobile/src/generated/facade.rs`): a uniffi record
//! for every schema of the spec, an enum for each `oneOf`, the plugin list,
//! and one object per namespace (`core` and each plugin tag) with a typed
//! method per operation. uniffi-bindgen turns it into Kotlin and Swift;
//! nothing per plugin is written by hand.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::spec::{pascal, snake, Operation};

const RUST_KEYWORDS: &[&str] = &[
    "type", "ref", "self", "fn", "match", "mod", "move", "use", "where", "impl", "in", "loop",
];

fn field_ident(json_name: &str) -> String {
    let s = snake(json_name);
    if RUST_KEYWORDS.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

fn doc(out: &mut String, indent: &str, text: Option<&str>) {
    if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
        for line in t.trim().lines() {
            let _ = writeln!(out, "{indent}/// {}", line.trim_end());
        }
    }
}

/// The Rust type of a schema, and whether it is JSON kept as text.
fn rust_type(schema: &Value) -> (String, bool) {
    if let Some(r) = schema["$ref"].as_str() {
        return (r.rsplit('/').next().unwrap_or("Unknown").to_string(), false);
    }
    if let Some(all) = schema["allOf"].as_array() {
        if let Some(r) = all.iter().find(|s| s.get("$ref").is_some()) {
            return rust_type(r);
        }
    }
    match schema["type"].as_str() {
        Some("string") => ("String".into(), false),
        Some("boolean") => ("bool".into(), false),
        Some("integer") => ("i64".into(), false),
        Some("number") => ("f64".into(), false),
        Some("array") => {
            let (inner, json) = rust_type(&schema["items"]);
            if json {
                ("String".into(), true)
            } else {
                (format!("Vec<{inner}>"), false)
            }
        }
        // Free-form JSON (WebAuthn options, metadata): text on the foreign side.
        _ => ("String".into(), true),
    }
}

fn record(out: &mut String, name: &str, schema: &Value) {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    doc(out, "", schema["description"].as_str());
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq, uniffi::Record, Serialize, Deserialize)]\npub struct {name} {{"
    );
    for (prop, ps) in schema["properties"].as_object().into_iter().flatten() {
        let (ty, json) = rust_type(ps);
        let optional = !required.contains(&prop.as_str()) || ps["nullable"] == true;
        doc(out, "    ", ps["description"].as_str());
        let ident = field_ident(prop);
        let mut serde = vec![format!("rename = \"{prop}\"")];
        if json {
            serde.push(format!(
                "with = \"{}\"",
                if optional {
                    "json_text_opt"
                } else {
                    "json_text"
                }
            ));
        }
        if optional {
            serde.push("default".into());
            serde.push("skip_serializing_if = \"Option::is_none\"".into());
            let _ = writeln!(out, "    #[serde({})]", serde.join(", "));
            let _ = writeln!(out, "    #[uniffi(default = None)]");
            let _ = writeln!(out, "    pub {ident}: Option<{ty}>,");
        } else {
            let _ = writeln!(out, "    #[serde({})]", serde.join(", "));
            let _ = writeln!(out, "    pub {ident}: {ty},");
        }
    }
    out.push_str("}\n\n");
}

/// A `oneOf` as an enum whose variants hold the member records; JSON picks
/// the first member it parses as (members differ in required fields).
fn union(out: &mut String, name: &str, schema: &Value) {
    let members: Vec<String> = schema["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| rust_type(m).0)
        .collect();
    doc(out, "", schema["description"].as_str());
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq, uniffi::Enum)]\npub enum {name} {{"
    );
    for m in &members {
        let _ = writeln!(out, "    {m} {{ value: {m} }},");
    }
    out.push_str("}\n\n");
    let _ = writeln!(
        out,
        "impl Serialize for {name} {{\n    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{\n        match self {{"
    );
    for m in &members {
        let _ = writeln!(
            out,
            "            {name}::{m} {{ value }} => value.serialize(s),"
        );
    }
    out.push_str("        }\n    }\n}\n\n");
    let _ = writeln!(
        out,
        "impl<'de> Deserialize<'de> for {name} {{\n    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{\n        let v = serde_json::Value::deserialize(d)?;"
    );
    for m in &members {
        let _ = writeln!(
            out,
            "        if let Ok(value) = serde_json::from_value::<{m}>(v.clone()) {{\n            return Ok({name}::{m} {{ value }});\n        }}"
        );
    }
    let _ = writeln!(
        out,
        "        Err(serde::de::Error::custom(\"no member of {name} matches\"))\n    }}\n}}\n"
    );
}

/// What a method returns, and how the JSON answer becomes it.
fn response_type(op: &Operation) -> (String, &'static str) {
    let Some(schema) = &op.response else {
        return ("()".into(), "unit");
    };
    if !op.response_is_json {
        return ("String".into(), "typed");
    }
    let (ty, json) = rust_type(schema);
    if json {
        return ("String".into(), "json_text");
    }
    if schema["nullable"] == true {
        return (format!("Option<{ty}>"), "typed");
    }
    (ty, "typed")
}

pub fn facade(spec: &Value, ops: &[Operation]) -> anyhow::Result<String> {
    let mut out = String::from(crate::RUST_HEADER);
    out.push_str(
        "//! The typed mobile surface, from the spec: records, unions, plugins and\n\
         //! one object per namespace. Every call goes through `AuthClient::call`.\n\n\
         use std::sync::Arc;\n\n\
         use serde::{Deserialize, Serialize};\n\n\
         use crate::{json_text, json_text_opt, AuthClient, AuthError};\n\n",
    );
    let schemas = spec["components"]["schemas"]
        .as_object()
        .context("component schemas")?;
    for (name, schema) in schemas {
        if schema.get("oneOf").is_some() {
            union(&mut out, name, schema);
        } else {
            record(&mut out, name, schema);
        }
    }

    let mut by_tag: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in ops {
        by_tag.entry(op.tag.as_str()).or_default().push(op);
    }
    out.push_str("/// The server plugins this library has namespaces for.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]\npub enum ClientPlugin {\n");
    for tag in by_tag.keys().filter(|t| **t != "core") {
        let _ = writeln!(out, "    /// `{tag}`.\n    {},", pascal(tag));
    }
    out.push_str("}\n\nimpl ClientPlugin {\n    /// The server's plugin id.\n    pub fn id(self) -> &'static str {\n        match self {\n");
    for tag in by_tag.keys().filter(|t| **t != "core") {
        let _ = writeln!(
            out,
            "            ClientPlugin::{} => \"{tag}\",",
            pascal(tag)
        );
    }
    out.push_str("        }\n    }\n}\n\n");

    // The accessors.
    out.push_str("#[uniffi::export(async_runtime = \"tokio\")]\nimpl AuthClient {\n");
    for tag in by_tag.keys() {
        let ty = format!("{}Api", pascal(tag));
        if *tag == "core" {
            let _ = writeln!(
                out,
                "    /// Every core operation.\n    pub fn core(self: Arc<Self>) -> Arc<{ty}> {{\n        Arc::new({ty} {{ client: self }})\n    }}\n"
            );
        } else {
            let _ = writeln!(
                out,
                "    /// The `{tag}` plugin's operations; `PluginNotEnabled` unless the plugin\n    /// is registered here and enabled on the server.\n    pub async fn {}(self: Arc<Self>) -> Result<Arc<{ty}>, AuthError> {{\n        self.require_plugin(\"{tag}\").await?;\n        Ok(Arc::new({ty} {{ client: self }}))\n    }}\n",
                snake(tag)
            );
        }
    }
    out.push_str("}\n\n");

    for (tag, ops) in &by_tag {
        let ty = format!("{}Api", pascal(tag));
        let plugin = if *tag == "core" {
            "None".to_string()
        } else {
            format!("Some(\"{tag}\")")
        };
        let _ = writeln!(
            out,
            "/// The operations of `{tag}`.\n#[derive(uniffi::Object)]\npub struct {ty} {{\n    client: Arc<AuthClient>,\n}}\n\n#[uniffi::export(async_runtime = \"tokio\")]\nimpl {ty} {{"
        );
        let mut seen = std::collections::HashSet::new();
        for op in ops {
            let method = snake(&op.method_name());
            if !seen.insert(method.clone()) {
                bail!("{tag}: two operations named {method}");
            }
            let mut args = Vec::new();
            let mut path_expr = format!("\"{}\".to_string()", op.path);
            let mut query = Vec::new();
            for p in &op.params {
                let ident = field_ident(&p.name);
                let (pty, _) = rust_type(&p.schema);
                let pty = if pty == "String" {
                    pty
                } else {
                    "String".into()
                };
                match (p.location.as_str(), p.required) {
                    ("path", _) => {
                        args.push(format!("{ident}: {pty}"));
                        path_expr = format!(
                            "{path_expr}.replace(\"{{{}}}\", &gatehouse::encode_uri_component(&{ident}))",
                            p.name
                        );
                    }
                    (_, true) => {
                        args.push(format!("{ident}: {pty}"));
                        query.push(format!("(\"{}\", Some({ident}.as_str()))", p.name));
                    }
                    (_, false) => {
                        args.push(format!("{ident}: Option<{pty}>"));
                        query.push(format!("(\"{}\", {ident}.as_deref())", p.name));
                    }
                }
            }
            let body = match &op.body {
                Some(b) => {
                    let (bty, _) = rust_type(b);
                    if op.body_optional {
                        args.push(format!("body: Option<{bty}>"));
                        "Some(&body.map(|b| serde_json::to_value(b).unwrap_or_default()).unwrap_or_else(|| serde_json::json!({})))".to_string()
                    } else {
                        args.push(format!("body: {bty}"));
                        "Some(&serde_json::to_value(body).unwrap_or_default())".to_string()
                    }
                }
                None => "None".to_string(),
            };
            let (ret, mode) = response_type(op);
            doc(
                &mut out,
                "    ",
                Some(&format!(
                    "{} (`{} {}`).",
                    op.summary.trim_end_matches('.'),
                    op.method,
                    op.path
                )),
            );
            let _ = writeln!(
                out,
                "    pub async fn {method}(&self{}) -> Result<{ret}, AuthError> {{",
                args.iter().map(|a| format!(", {a}")).collect::<String>()
            );
            let _ = writeln!(
                out,
                "        let path = crate::with_query({path_expr}, &[{}]);",
                query.join(", ")
            );
            let call = format!(
                "self.client.call(\"{}\", &path, {body}, {plugin}).await?",
                op.method
            );
            match mode {
                "unit" => {
                    let _ = writeln!(out, "        {call};\n        Ok(())");
                }
                "json_text" => {
                    let _ = writeln!(out, "        Ok({call}.to_string())");
                }
                _ => {
                    let _ = writeln!(out, "        crate::decode({call})");
                }
            }
            out.push_str("    }\n\n");
        }
        out.push_str("}\n\n");
    }
    Ok(out.trim_end().to_string() + "\n")
}
