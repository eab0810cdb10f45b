//! Spec details the route macros cannot express: which error codes each
//! operation can return (grouped by status on its error responses) and which
//! operations need a session (the cookie, or a scheme a plugin adds).
//! Core and plugins declare [`RouteDoc`]s next to their routes; [`Documented`]
//! applies them while the spec is built, in the plugin gating scope.

use std::collections::{BTreeMap, HashMap};

use poem_openapi::registry::{
    MetaApi, MetaMediaType, MetaResponse, MetaSchema, MetaSchemaRef, MetaSecurityScheme, Registry,
};
use poem_openapi::OpenApi;

use crate::error::{codes, ErrorBody, ErrorCode, ErrorOrOAuthErrorBody, OAuthErrorBody};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAuth {
    /// Anyone.
    Public,
    /// Works signed in or out (e.g. get-session, sign-out).
    Optional,
    /// A valid session is required (401 `UNAUTHORIZED` otherwise).
    Session,
}

/// The documented contract of one operation, by operationId.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub operation_id: &'static str,
    pub auth: RouteAuth,
    /// Route-specific codes; the pipeline's common codes are added for every route.
    pub errors: &'static [ErrorCode],
}

pub const COOKIE_SCHEME: &str = "apiKeyCookie";

/// Codes the pipeline can answer with on any route.
const COMMON: &[ErrorCode] = &[codes::TOO_MANY_REQUESTS, codes::INTERNAL_SERVER_ERROR];
/// Codes of the body rules and origin checks, on routes that take a body.
const WITH_BODY: &[ErrorCode] = &[
    codes::VALIDATION_ERROR,
    codes::BAD_REQUEST,
    codes::BODY_MUST_BE_AN_OBJECT,
    codes::PAYLOAD_TOO_LARGE,
    codes::REQUEST_TIMEOUT,
    codes::UNSUPPORTED_MEDIA_TYPE,
    codes::MISSING_OR_NULL_ORIGIN,
    codes::INVALID_ORIGIN,
];

/// The route docs of the core and the plugins active in the current scope.
pub fn active_route_docs() -> Vec<RouteDoc> {
    let mut docs = crate::core::routes::ROUTE_DOCS.to_vec();
    docs.extend_from_slice(crate::social::routes::ROUTE_DOCS);
    docs.extend(crate::plugin::active_route_docs());
    docs
}

/// Wraps the API tuple and completes its operations from the route docs.
pub struct Documented<T>(pub T);

impl<T: OpenApi> OpenApi for Documented<T> {
    fn meta() -> Vec<MetaApi> {
        let docs = active_route_docs();
        let mut by_id: HashMap<&str, (RouteAuth, Vec<ErrorCode>)> = HashMap::new();
        // Several docs may name one operation (a plugin adds codes to a core route).
        for d in &docs {
            let entry = by_id.entry(d.operation_id).or_insert((d.auth, Vec::new()));
            if d.auth != RouteAuth::Public {
                entry.0 = d.auth;
            }
            entry.1.extend_from_slice(d.errors);
        }
        let schemes: Vec<&'static str> = crate::plugin::active_plugins()
            .iter()
            .filter_map(|p| p.security_scheme().map(|(name, _)| name))
            .collect();
        let oauth_paths: Vec<&'static str> = crate::plugin::active_plugins()
            .iter()
            .flat_map(|p| p.oauth_paths().iter().copied())
            .collect();
        let mut apis = T::meta();
        for api in &mut apis {
            for path in &mut api.paths {
                let oauth = oauth_paths.contains(&path.path.as_str());
                for op in &mut path.operations {
                    let Some((auth, route_codes)) = op.operation_id.and_then(|id| by_id.get(id))
                    else {
                        continue;
                    };
                    let mut all: Vec<ErrorCode>;
                    if oauth {
                        // The pipeline's refusals in OAuth's words, then the route's codes.
                        all = OAUTH_COMMON.to_vec();
                    } else {
                        all = COMMON.to_vec();
                        if op.request.is_some() {
                            all.extend_from_slice(WITH_BODY);
                        } else if !op.params.is_empty() {
                            all.push(codes::VALIDATION_ERROR);
                        }
                        if *auth == RouteAuth::Session {
                            all.push(codes::UNAUTHORIZED);
                        }
                    }
                    all.extend(route_codes.iter().copied());
                    // One error schema per operation (generators type the
                    // error once): whichever shapes its codes come in.
                    let oauth_codes = all.iter().filter(|c| is_oauth_code(c)).count();
                    let (heading, schema) = if oauth_codes == 0 {
                        (
                            "Error codes",
                            <ErrorBody as poem_openapi::types::Type>::schema_ref(),
                        )
                    } else if oauth_codes == all.len() {
                        (
                            "OAuth errors (`error`)",
                            <OAuthErrorBody as poem_openapi::types::Type>::schema_ref(),
                        )
                    } else {
                        (
                            "Error codes (`code`) and OAuth errors (`error`)",
                            <ErrorOrOAuthErrorBody as poem_openapi::types::Type>::schema_ref(),
                        )
                    };
                    op.responses
                        .responses
                        .retain(|r| r.status.is_some_and(|s| s < 400));
                    op.responses
                        .responses
                        .extend(error_responses_as(&all, heading, schema));
                    op.security = security(*auth, &schemes);
                }
            }
        }
        apis
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
        if crate::plugin::active_plugins()
            .iter()
            .any(|p| !p.oauth_paths().is_empty())
        {
            <OAuthErrorBody as poem_openapi::types::Type>::register(registry);
            <ErrorOrOAuthErrorBody as poem_openapi::types::Type>::register(registry);
        }
        mark_optional_properties_nullable(registry);
        // Better Auth's sign-up schema checks the address's form (z.email());
        // poem-openapi has no `format` attribute, so it is stated here.
        if let Some(schema) = registry.schemas.get_mut("SignUpEmailBody") {
            for (name, prop) in &mut schema.properties {
                if let (&mut "email", MetaSchemaRef::Inline(inline)) = (name, prop) {
                    inline.format = Some("email");
                }
            }
        }
        registry.security_schemes.insert(
            COOKIE_SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some("The signed session cookie (`better-auth.session_token` by default; `__Secure-` prefixed on https)."),
                name: Some("better-auth.session_token"),
                key_in: Some("cookie"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
        for (name, scheme) in crate::plugin::active_plugins()
            .iter()
            .filter_map(|p| p.security_scheme())
        {
            registry.security_schemes.insert(name, scheme);
        }
    }

    fn add_routes(
        self,
        route_table: &mut HashMap<
            String,
            HashMap<poem::http::Method, poem::endpoint::BoxEndpoint<'static>>,
        >,
    ) {
        self.0.add_routes(route_table)
    }
}

/// What poem-openapi cannot say in its own types, stated on the finished
/// document: public operations declare `security: []` (callable without
/// credentials, not "unspecified"), a nullable `allOf` wrapper says it is an
/// object, as OpenAPI 3.0 requires of `nullable`, and the hints client
/// generators read: a plugin's tag carries `x-client-factory` (Better Auth's
/// client factory name, when it is not `<camelCaseId>Client`), a sign-in
/// challenge's schema carries `x-plugin`. Runs in the plugin scope.
pub fn finish_document(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(spec) else {
        return spec.to_string();
    };
    if let Some(paths) = doc["paths"].as_object_mut() {
        for op in paths.values_mut().filter_map(|item| item.as_object_mut()) {
            for op in op.values_mut().filter_map(|o| o.as_object_mut()) {
                op.entry("security")
                    .or_insert_with(|| serde_json::json!([]));
            }
        }
    }
    let objects: Vec<String> = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, s)| s["type"] == "object")
        .map(|(name, _)| format!("#/components/schemas/{name}"))
        .collect();
    type_nullable_wrappers(&mut doc, &objects);
    // The core's tag first, then the plugins' (alphabetical): readers and
    // reference UIs such as Scalar list the sections in this order.
    if let Some(tags) = doc["tags"].as_array_mut() {
        tags.sort_by_key(|t| t["name"] != "core");
    }
    for p in crate::plugin::active_plugins() {
        if let (Some(name), Some(tags)) = (p.client_factory(), doc["tags"].as_array_mut()) {
            for tag in tags.iter_mut().filter(|t| t["name"] == p.id()) {
                tag["x-client-factory"] = name.into();
            }
        }
        if let Some(MetaSchemaRef::Reference(name)) =
            p.sign_in_challenge().map(|c| (c.schema_ref)())
        {
            if let Some(schema) = doc["components"]["schemas"].get_mut(&name) {
                schema["x-plugin"] = p.id().into();
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_string())
}

/// Gives `type: object` to nullable `allOf` wrappers of object schemas.
fn type_nullable_wrappers(v: &mut serde_json::Value, objects: &[String]) {
    match v {
        serde_json::Value::Object(map) => {
            let wraps_objects = map
                .get("allOf")
                .and_then(|a| a.as_array())
                .is_some_and(|all| {
                    all.iter().all(|s| {
                        s.get("$ref")
                            .and_then(|r| r.as_str())
                            .map_or(s.get("$ref").is_none(), |r| objects.iter().any(|o| o == r))
                    })
                });
            if map.get("nullable") == Some(&serde_json::Value::Bool(true))
                && wraps_objects
                && !map.contains_key("type")
            {
                map.insert("type".into(), "object".into());
            }
            map.values_mut()
                .for_each(|x| type_nullable_wrappers(x, objects));
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .for_each(|x| type_nullable_wrappers(x, objects)),
        _ => {}
    }
}

/// An optional property (`Option<T>`) is written as `null` when absent
/// (`User.image`, plugin fields...) and reads `null` as absent, so the spec
/// says `nullable` for every property that is not required.
fn mark_optional_properties_nullable(registry: &mut Registry) {
    for schema in registry.schemas.values_mut() {
        let required = schema.required.clone();
        for (name, prop) in &mut schema.properties {
            if required.contains(name) {
                continue;
            }
            *prop = match std::mem::replace(prop, MetaSchemaRef::Reference(String::new())) {
                // Optional lists are left out rather than sent as null.
                MetaSchemaRef::Inline(inline) if inline.ty == "array" => {
                    MetaSchemaRef::Inline(inline)
                }
                // OpenAPI 3.0 allows `nullable` only beside a `type`: an untyped
                // schema (any JSON value, or a `oneOf` such as string-or-list)
                // stays as it is.
                MetaSchemaRef::Inline(inline) if inline.ty.is_empty() => {
                    MetaSchemaRef::Inline(inline)
                }
                MetaSchemaRef::Inline(mut inline) => {
                    inline.nullable = true;
                    MetaSchemaRef::Inline(inline)
                }
                reference => MetaSchemaRef::Inline(Box::new(MetaSchema {
                    nullable: true,
                    all_of: vec![reference],
                    ..MetaSchema::ANY
                })),
            };
        }
    }
}

fn security(
    auth: RouteAuth,
    plugin_schemes: &[&'static str],
) -> Vec<HashMap<&'static str, Vec<&'static str>>> {
    if auth == RouteAuth::Public {
        return Vec::new();
    }
    let mut out = vec![HashMap::from([(COOKIE_SCHEME, vec![])])];
    for name in plugin_schemes {
        out.push(HashMap::from([(*name, vec![])]));
    }
    if auth == RouteAuth::Optional {
        // The empty requirement: calling without credentials is allowed too.
        out.push(HashMap::new());
    }
    out
}

/// One response per status, its description listing the codes, all with the
/// shared `ErrorBody` schema.
/// OAuth's error codes are lower case (RFC 6749 §5.2 and the RFCs after
/// it); Better Auth's and Gatehouse's own are UPPER_SNAKE.
fn is_oauth_code(c: &ErrorCode) -> bool {
    c.code.bytes().any(|b| b.is_ascii_lowercase())
}

/// The refusals of the pipeline on an OAuth path, as that path words them.
const OAUTH_COMMON: &[ErrorCode] = &[
    ErrorCode {
        code: "invalid_request",
        message: "The request is missing a parameter, repeats one, or is otherwise malformed (body rules, validation, origin)",
        status: 400,
    },
    ErrorCode {
        code: "invalid_request",
        message: "The body took too long to arrive",
        status: 408,
    },
    ErrorCode {
        code: "invalid_request",
        message: "The body is too large",
        status: 413,
    },
    ErrorCode {
        code: "invalid_request",
        message: "The body is neither application/x-www-form-urlencoded nor application/json",
        status: 415,
    },
    ErrorCode {
        code: "invalid_request",
        message: "A cookie-carrying request from an untrusted origin",
        status: 403,
    },
    ErrorCode {
        code: "temporarily_unavailable",
        message: "Too many requests",
        status: 429,
    },
    ErrorCode {
        code: "server_error",
        message: "Internal server error",
        status: 500,
    },
];

fn error_responses_as(
    all: &[ErrorCode],
    heading: &str,
    schema: MetaSchemaRef,
) -> Vec<MetaResponse> {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for c in all {
        let list = by_status.entry(c.status).or_default();
        if !list.iter().any(|x| x.code == c.code) {
            list.push(*c);
        }
    }
    by_status
        .into_iter()
        .map(|(status, list)| {
            let text = list
                .iter()
                .map(|c| format!("`{}`: {}", c.code, c.message))
                .collect::<Vec<_>>()
                .join("; ");
            MetaResponse {
                // Built once per spec build; the registry wants 'static text.
                description: Box::leak(format!("{heading}: {text}").into_boxed_str()),
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/json",
                    schema: schema.clone(),
                }],
                headers: vec![],
            }
        })
        .collect()
}
