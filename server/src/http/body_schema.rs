//! Strict request-body validation against the emitted spec, with Better
//! Auth's (zod) message format: `[body.email] Invalid input: expected
//! string, received number`, issues joined by `; `. Runs before the route,
//! so plugin bodies are covered the moment they are in the spec.

use std::collections::HashMap;

use serde_json::{Map, Value};

pub struct BodySchemas {
    components: Map<String, Value>,
    /// (METHOD, path) -> request body schema.
    routes: HashMap<(String, String), Value>,
}

impl BodySchemas {
    pub fn from_spec(spec: &str) -> Self {
        let spec: Value = serde_json::from_str(spec).unwrap_or(Value::Null);
        let components = spec["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut routes = HashMap::new();
        if let Some(paths) = spec["paths"].as_object() {
            for (path, ops) in paths {
                for (method, op) in ops.as_object().into_iter().flatten() {
                    let content = &op["requestBody"]["content"];
                    let schema = content
                        .as_object()
                        .and_then(|c| c.iter().find(|(k, _)| k.starts_with("application/json")))
                        .map(|(_, v)| v["schema"].clone());
                    if let Some(schema) = schema {
                        routes.insert((method.to_ascii_uppercase(), path.clone()), schema);
                    }
                }
            }
        }
        BodySchemas { components, routes }
    }

    /// `Err(message)` lists every issue found in the body.
    pub fn validate(&self, method: &str, path: &str, body: &Value) -> Result<(), String> {
        let Some(schema) = self.routes.get(&(method.to_string(), path.to_string())) else {
            return Ok(());
        };
        let mut issues = Vec::new();
        self.check(schema, Some(body), "body", &mut issues);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues.join("; "))
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        if let Some(r) = schema["$ref"].as_str() {
            if let Some(name) = r.strip_prefix("#/components/schemas/") {
                if let Some(s) = self.components.get(name) {
                    return self.resolve(s);
                }
            }
        }
        if let Some([one]) = schema["allOf"].as_array().map(Vec::as_slice) {
            return self.resolve(one);
        }
        schema
    }

    fn check(&self, schema: &Value, value: Option<&Value>, at: &str, issues: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let Some(expected) = schema["type"].as_str() else {
            return;
        };
        let Some(value) = value else {
            issues.push(format!(
                "[{at}] Invalid input: expected {expected}, received undefined"
            ));
            return;
        };
        let ok = match expected {
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !ok {
            issues.push(format!(
                "[{at}] Invalid input: expected {expected}, received {}",
                kind(value)
            ));
            return;
        }
        match (expected, value) {
            ("object", Value::Object(map)) => {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                    let field = map.get(name);
                    let path = format!("{at}.{name}");
                    match field {
                        None | Some(Value::Null) if !required.contains(&name.as_str()) => {}
                        None | Some(Value::Null) => issues.push(format!(
                            "[{path}] Invalid input: expected {}, received {}",
                            type_name(self.resolve(prop)),
                            if field.is_none() { "undefined" } else { "null" }
                        )),
                        Some(v) => self.check(prop, Some(v), &path, issues),
                    }
                }
            }
            ("string", Value::String(text)) => {
                // The two string rules Better Auth's schemas state (zod's messages).
                if schema["format"] == "email" && !crate::core::validate::is_valid_email(text) {
                    issues.push(format!("[{at}] Invalid email address"));
                }
                if let Some(min) = schema["minLength"].as_u64() {
                    if (text.chars().count() as u64) < min {
                        issues.push(format!(
                            "[{at}] Too small: expected string to have >={min} characters"
                        ));
                    }
                }
            }
            ("array", Value::Array(items)) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, Some(item), &format!("{at}.{i}"), issues);
                    }
                }
            }
            _ => {}
        }
    }
}

fn type_name(schema: &Value) -> &str {
    schema["type"].as_str().unwrap_or("value")
}

/// zod's names for received types.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> BodySchemas {
        let spec = json!({
            "paths": {"/sign-up/email": {"post": {"requestBody": {"content": {"application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/SignUp"}}}}}}},
            "components": {"schemas": {"SignUp": {"type": "object", "required": ["name", "email"], "properties": {
                "name": {"type": "string"}, "email": {"type": "string"}, "rememberMe": {"type": "boolean"}}}}}
        });
        BodySchemas::from_spec(&spec.to_string())
    }

    #[test]
    fn better_auth_message_format() {
        let s = schemas();
        assert!(s
            .validate(
                "POST",
                "/sign-up/email",
                &json!({"name": "a", "email": "b"})
            )
            .is_ok());
        assert_eq!(
            s.validate("POST", "/sign-up/email", &json!({"name": 5, "rememberMe": "yes"})).unwrap_err(),
            "[body.name] Invalid input: expected string, received number; [body.email] Invalid input: expected string, received undefined; [body.rememberMe] Invalid input: expected boolean, received string"
        );
        assert!(s.validate("GET", "/other", &json!(1)).is_ok());
    }
}
