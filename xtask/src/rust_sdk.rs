//! The Rust SDK's typed namespaces: one per plugin tag (plus `core`), each
//! method a thin wrapper over the progenitor builder of one operation, so
//! request and response types are exactly progenitor's. The builders'
//! shapes are read back from the generated client source.

use std::collections::BTreeMap;

use anyhow::{bail, Context};

use crate::spec::{pascal, snake, Operation};

/// One setter of a progenitor builder.
struct Param {
    name: String,
    ty: String,
    optional: bool,
}

/// The builder of one operation: its parameters and the response type.
struct Builder {
    params: Vec<Param>,
    response: String,
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads `pub struct <Name><'a> { client, field: Result<T, String>, ... }`
/// and its `send` signature from the generated client.
fn builder(client_rs: &str, name: &str) -> anyhow::Result<Builder> {
    let start = client_rs
        .find(&format!("pub struct {name}<'a> {{"))
        .with_context(|| format!("no builder {name} in the generated client"))?;
    let body = &client_rs[start..];
    let end = body.find("\n    }").context("builder struct end")?;
    let mut params = Vec::new();
    for line in body[..end].lines().skip(1) {
        let line = line.trim().trim_end_matches(',');
        let Some((field, ty)) = line.split_once(": ") else {
            continue;
        };
        if field == "client" {
            continue;
        }
        let inner = ty
            .strip_prefix("Result<")
            .and_then(|t| t.strip_suffix(", String>"))
            .with_context(|| format!("{name}.{field}: unexpected type {ty}"))?;
        let (optional, ty) = match inner
            .strip_prefix("Option<")
            .and_then(|t| t.strip_suffix('>'))
        {
            Some(t) => (true, t.to_string()),
            None => (false, inner.to_string()),
        };
        params.push(Param {
            name: field.to_string(),
            ty,
            optional,
        });
    }
    let imp = client_rs[start..]
        .find(&format!("impl<'a> {name}<'a> {{"))
        .map(|i| &client_rs[start + i..])
        .context("builder impl")?;
    let send = imp.find("pub async fn send(").context("send")?;
    let sig = squash(&imp[send..send + 400.min(imp.len() - send)]);
    let response = sig
        .split_once("ResponseValue<")
        .and_then(|(_, rest)| rest.split_once(">, Error<"))
        .map(|(t, _)| t.trim().to_string())
        .with_context(|| format!("{name}: send signature {sig}"))?;
    Ok(Builder { params, response })
}

/// `sdk/src/generated/namespaces.rs`.
pub fn namespaces(ops: &[Operation], client_rs: &str) -> anyhow::Result<String> {
    let mut by_tag: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in ops {
        by_tag.entry(op.tag.as_str()).or_default().push(op);
    }
    let mut out = String::from(crate::RUST_HEADER);
    out.push_str(
        "//! Typed namespaces, one per plugin of the spec (behind a cargo feature\n\
         //! named like it) and `core`: every operation, with progenitor's request\n\
         //! and response types, through the client's single response path.\n\n\
         use crate::{types, AuthClient, AuthError};\n\
         use progenitor_client::ByteStream;\n",
    );
    // The plugin list, for `AuthClientBuilder::plugin`.
    out.push_str(
        "\n/// The plugins of the spec this client has namespaces for.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n#[non_exhaustive]\npub enum Plugin {\n",
    );
    for tag in by_tag.keys().filter(|t| **t != "core") {
        out.push_str(&format!(
            "    /// `{tag}`.\n    #[cfg(feature = \"{tag}\")]\n    {},\n",
            pascal(tag)
        ));
    }
    out.push_str("}\n\nimpl Plugin {\n    /// The server's plugin id.\n    pub fn id(self) -> &'static str {\n        match self {\n");
    for tag in by_tag.keys().filter(|t| **t != "core") {
        out.push_str(&format!(
            "            #[cfg(feature = \"{tag}\")]\n            Plugin::{} => \"{tag}\",\n",
            pascal(tag)
        ));
    }
    out.push_str("        }\n    }\n}\n");

    for (tag, ops) in &by_tag {
        let ty = format!("{}Api", pascal(tag));
        let cfg = if *tag == "core" {
            String::new()
        } else {
            format!("#[cfg(feature = \"{tag}\")]\n")
        };
        // The accessor.
        if *tag == "core" {
            out.push_str(&format!(
                "\nimpl AuthClient {{\n    /// Every core operation, typed.\n    pub fn core(&self) -> {ty}<'_> {{\n        {ty} {{ client: self }}\n    }}\n}}\n"
            ));
        } else {
            out.push_str(&format!(
                "\n{cfg}impl AuthClient {{\n    /// The `{tag}` plugin's operations; `PluginNotEnabled` unless the\n    /// plugin is registered on this client and enabled on the server.\n    pub fn {}(&self) -> Result<{ty}<'_>, AuthError> {{\n        self.require_plugin(\"{tag}\")?;\n        Ok({ty} {{ client: self }})\n    }}\n}}\n",
                snake(tag)
            ));
        }
        out.push_str(&format!(
            "\n/// The operations of `{tag}`.\n{cfg}#[derive(Debug, Clone, Copy)]\npub struct {ty}<'a> {{\n    client: &'a AuthClient,\n}}\n\n{cfg}impl {ty}<'_> {{\n"
        ));
        let mut seen = std::collections::HashSet::new();
        for op in ops {
            let method = snake(&op.method_name());
            if !seen.insert(method.clone()) {
                bail!("{tag}: two operations named {method}");
            }
            let raw = snake(&op.operation_id);
            let b = builder(client_rs, &pascal(&op.operation_id))?;
            let mut generics = Vec::new();
            let mut args = Vec::new();
            let mut calls = Vec::new();
            for p in &b.params {
                if p.name == "body" {
                    let body_ty = p.ty.replace("types::builder::", "types::");
                    generics.push(format!(
                        "B: TryInto<{body_ty}>, <B as TryInto<{body_ty}>>::Error: std::fmt::Display"
                    ));
                    args.push("body: B".to_string());
                    calls.push("        let b = b.body(body);\n".to_string());
                } else if p.optional {
                    args.push(format!("{}: Option<{}>", p.name, p.ty));
                    calls.push(format!(
                        "        let b = match {n} {{ Some(v) => b.{n}(v), None => b }};\n",
                        n = p.name
                    ));
                } else {
                    args.push(format!("{}: {}", p.name, p.ty));
                    calls.push(format!("        let b = b.{n}({n});\n", n = p.name));
                }
            }
            let (generics, bounds) = if generics.is_empty() {
                (String::new(), String::new())
            } else {
                ("<B>".to_string(), format!(" where {}", generics.join(", ")))
            };
            out.push_str(&format!(
                "    /// {} (`{} {}`).\n",
                op.summary.trim_end_matches('.'),
                op.method,
                op.path
            ));
            out.push_str(&format!(
                "    pub async fn {method}{generics}(&self{}) -> Result<{}, AuthError>{bounds} {{\n        let b = self.client.raw().{raw}();\n{}        self.client.call(b.send()).await\n    }}\n",
                args.iter().map(|a| format!(", {a}")).collect::<String>(),
                b.response,
                calls.concat()
            ));
        }
        out.push_str("}\n");
    }
    // Routes that speak OAuth answer `{error, error_description}`: the same
    // single error path reads it as a code and a message.
    if client_rs.contains("pub struct OAuthErrorBody") {
        out.push_str(
            "\nimpl crate::ErrorPayload for types::OAuthErrorBody {\n    fn code_and_message(self) -> (String, String) {\n        (self.error, self.error_description)\n    }\n}\n",
        );
    }
    // A few operations answer in either shape (one schema with both pairs).
    if client_rs.contains("pub struct ErrorOrOAuthErrorBody") {
        out.push_str(
            "\nimpl crate::ErrorPayload for types::ErrorOrOAuthErrorBody {\n    fn code_and_message(self) -> (String, String) {\n        (\n            self.code.or(self.error).unwrap_or_default(),\n            self.message.or(self.error_description).unwrap_or_default(),\n        )\n    }\n}\n",
        );
    }
    Ok(out)
}

/// Rewrites the generated block of `sdk/Cargo.toml`'s `[features]`: one
/// feature per plugin of the spec, all of them default.
pub fn cargo_features(ops: &[Operation], cargo_toml: &str) -> anyhow::Result<String> {
    const BEGIN: &str = "# @generated features: begin (cargo codegen)\n";
    const END: &str = "# @generated features: end\n";
    let (head, rest) = cargo_toml
        .split_once(BEGIN)
        .context("sdk/Cargo.toml: no generated features block")?;
    let (_, tail) = rest.split_once(END).context("generated block end")?;
    let mut tags: Vec<&str> = ops
        .iter()
        .map(|o| o.tag.as_str())
        .filter(|t| *t != "core")
        .collect();
    tags.sort();
    tags.dedup();
    let mut block = String::from(BEGIN);
    block.push_str(&format!(
        "default = [{}]\n",
        tags.iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for t in &tags {
        block.push_str(&format!("{t} = []\n"));
    }
    block.push_str(END);
    Ok(format!("{head}{block}{tail}"))
}
