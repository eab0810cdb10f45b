//! The spec as the generators see it: operations grouped by tag (`core` or a
//! plugin id), with their parameters, body and success response.

use anyhow::Context;
use serde_json::Value;

/// A query or path parameter.
pub struct Param {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub schema: Value,
}

/// One operation of the spec.
pub struct Operation {
    pub operation_id: String,
    /// `GET`, `POST`...
    pub method: String,
    pub path: String,
    /// `core` or the plugin id.
    pub tag: String,
    pub summary: String,
    pub params: Vec<Param>,
    /// The request body's schema (a `$ref`), if any.
    pub body: Option<Value>,
    /// The body has no required member: callers may omit it.
    pub body_optional: bool,
    /// The 200 response's schema, if any.
    pub response: Option<Value>,
    /// The 200 response is JSON (not, e.g., an HTML page).
    pub response_is_json: bool,
}

impl Operation {
    /// The name inside its namespace: the operationId without the plugin's
    /// prefix (`twoFactorEnable` in `two-factor` -> `enable`).
    pub fn method_name(&self) -> String {
        let prefix = camel(&self.tag);
        match self.operation_id.strip_prefix(&prefix) {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_uppercase()) => {
                let mut cs = rest.chars();
                cs.next()
                    .map(|f| f.to_ascii_lowercase().to_string() + cs.as_str())
                    .unwrap_or_default()
            }
            _ => self.operation_id.clone(),
        }
    }
}

pub fn operations(spec: &Value) -> anyhow::Result<Vec<Operation>> {
    let mut out = Vec::new();
    for (path, ops) in spec["paths"].as_object().context("paths")? {
        for (method, op) in ops.as_object().context("operations")? {
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|m| m["schema"].clone());
            let body_optional = body.as_ref().is_some_and(|b| {
                let schema = resolve(spec, b);
                schema["required"].as_array().is_none_or(|r| r.is_empty())
            });
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Param {
                    name: p["name"].as_str().unwrap_or_default().to_string(),
                    location: p["in"].as_str().unwrap_or_default().to_string(),
                    required: p["required"] == true,
                    schema: p["schema"].clone(),
                })
                .collect();
            out.push(Operation {
                operation_id: op["operationId"]
                    .as_str()
                    .with_context(|| format!("{method} {path}: no operationId"))?
                    .to_string(),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                tag: op["tags"][0].as_str().unwrap_or("core").to_string(),
                summary: op["summary"].as_str().unwrap_or_default().to_string(),
                params,
                body,
                body_optional,
                response: op["responses"]["200"]["content"]
                    .as_object()
                    .and_then(|c| c.values().next())
                    .map(|m| m["schema"].clone()),
                response_is_json: op["responses"]["200"]["content"]
                    .as_object()
                    .and_then(|c| c.keys().next())
                    .is_some_and(|k| k.starts_with("application/json")),
            });
        }
    }
    Ok(out)
}

/// Follows a `$ref` (and a single-member `allOf`) to the schema it names.
pub fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        return &spec["components"]["schemas"][name];
    }
    if let Some([one]) = schema["allOf"].as_array().map(Vec::as_slice) {
        return resolve(spec, one);
    }
    schema
}

/// `two-factor` / `twoFactorEnable` -> `twoFactor` / `twoFactorEnable`.
pub fn camel(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split(['-', '_']).enumerate() {
        if i == 0 {
            out.push_str(part);
        } else if let Some(first) = part.chars().next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(&part[first.len_utf8()..]);
        }
    }
    out
}

/// `two-factor` / `twoFactorEnable` -> `TwoFactor` / `TwoFactorEnable`.
pub fn pascal(s: &str) -> String {
    let c = camel(s);
    let mut chars = c.chars();
    chars
        .next()
        .map(|f| f.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `two-factor` / `twoFactorEnable` -> `two_factor` / `two_factor_enable`.
/// A run of capitals is one word: `callbackURL` -> `callback_url`.
pub fn snake(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == '_' {
            out.push('_');
            continue;
        }
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("twoFactorEnable"), "two_factor_enable");
        assert_eq!(snake("two-factor"), "two_factor");
        assert_eq!(snake("callbackURL"), "callback_url");
        assert_eq!(snake("credentialID"), "credential_id");
        assert_eq!(snake("URLPath"), "url_path");
        assert_eq!(pascal("email-otp"), "EmailOtp");
        assert_eq!(camel("magic-link"), "magicLink");
    }
}
