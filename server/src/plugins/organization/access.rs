//! Access control for organizations: Better Auth's default statements and
//! roles, and the role set of one organization (the configured roles plus,
//! with dynamic access control, the roles it stores), evaluated with the
//! shared evaluator (`crate::plugin::access`).

use std::collections::BTreeMap;

pub use crate::plugin::access::{authorize, role_names, AccessControl, Statements};

fn statements(pairs: &[(&str, &[&str])]) -> Statements {
    pairs
        .iter()
        .map(|(r, a)| (r.to_string(), a.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// Better Auth's default statements.
pub fn default_statements() -> Statements {
    statements(&[
        ("organization", &["update", "delete"]),
        ("member", &["create", "update", "delete"]),
        ("invitation", &["create", "cancel"]),
        ("team", &["create", "update", "delete"]),
        ("ac", &["create", "read", "update", "delete"]),
    ])
}

/// Better Auth's default roles: `owner` (everything), `admin` (everything
/// but deleting the organization), `member` (reading roles).
pub fn default_roles() -> BTreeMap<String, Statements> {
    let owner = default_statements();
    let mut admin = owner.clone();
    admin.insert("organization".into(), vec!["update".into()]);
    let member = statements(&[("ac", &["read"])]);
    BTreeMap::from([
        ("owner".to_string(), owner),
        ("admin".to_string(), admin),
        ("member".to_string(), member),
    ])
}

/// One statement list from a request: `{resource: [action]}`.
pub fn request(resource: &str, action: &str) -> Statements {
    BTreeMap::from([(resource.to_string(), vec![action.to_string()])])
}

/// Sorted, deduplicated role names of a role value (`"admin, member"`).
pub fn parse_roles(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in role_names(list) {
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    out
}

/// The roles of one organization: the configured ones, merged with those it
/// stores (dynamic access control; a stored role of a configured name adds
/// to it, as Better Auth merges them).
pub struct OrgRoles {
    pub ac: std::sync::Arc<AccessControl>,
    pub stored: BTreeMap<String, Statements>,
}

impl OrgRoles {
    /// A role's grants, if the role exists.
    pub fn lookup(&self, name: &str) -> Option<Statements> {
        match (self.ac.role(name), self.stored.get(name)) {
            (None, None) => None,
            (Some(s), None) | (None, Some(s)) => Some(s.clone()),
            (Some(a), Some(b)) => Some(union([a, b])),
        }
    }

    /// Better Auth's rule: true if any one of `roles` grants the whole request.
    pub fn authorize(&self, roles: &str, request: &Statements) -> bool {
        authorize(roles, |n| self.lookup(n), request)
    }

    /// Everything `roles` grant together.
    pub fn held(&self, roles: &str) -> Statements {
        let granted: Vec<Statements> = role_names(roles).filter_map(|r| self.lookup(r)).collect();
        union(granted.iter())
    }

    /// True when `holder` holds every action `granted` would give: granting
    /// `granted` is no escalation for `holder`.
    pub fn covers(&self, holder: &str, granted: &str) -> bool {
        let held: Vec<Statements> = role_names(holder).filter_map(|r| self.lookup(r)).collect();
        crate::plugin::access::covers(&held, &self.held(granted))
    }

    /// The role names of `roles` that name no role.
    pub fn unknown<'r>(&self, roles: &'r [String]) -> Vec<&'r str> {
        roles
            .iter()
            .filter(|r| self.lookup(r).is_none())
            .map(String::as_str)
            .collect()
    }
}

/// True when `held` includes every action of `wanted`.
pub fn statements_cover(held: &Statements, wanted: &Statements) -> bool {
    crate::plugin::access::covers(std::slice::from_ref(held), wanted)
}

/// Every action of every statement list, once.
pub fn union<'s>(all: impl IntoIterator<Item = &'s Statements>) -> Statements {
    let mut out = Statements::new();
    for s in all {
        for (resource, actions) in s {
            let entry = out.entry(resource.clone()).or_default();
            for a in actions {
                if !entry.contains(a) {
                    entry.push(a.clone());
                }
            }
        }
    }
    out
}

/// The default evaluator, without configured statements or roles.
pub fn defaults() -> AccessControl {
    AccessControl::new(default_statements(), default_roles())
        .expect("the default roles use the default statements")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_better_auth() {
        let roles = OrgRoles {
            ac: std::sync::Arc::new(defaults()),
            stored: BTreeMap::new(),
        };
        assert!(roles.authorize("owner", &request("organization", "delete")));
        assert!(!roles.authorize("admin", &request("organization", "delete")));
        assert!(roles.authorize("admin", &request("member", "update")));
        assert!(!roles.authorize("member", &request("member", "update")));
        assert!(roles.authorize("member", &request("ac", "read")));
        // Any one role of a list may grant.
        assert!(roles.authorize("member, admin", &request("team", "create")));
        assert!(!roles.authorize("nope", &request("ac", "read")));
        assert!(roles.covers("owner", "admin"));
        assert!(roles.covers("admin", "admin,member"));
        assert!(!roles.covers("admin", "owner"));
        assert!(!roles.covers("member", "admin"));
    }
}
