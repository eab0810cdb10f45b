//! The one permission evaluator, shared by every plugin that checks roles
//! (organizations, teams, the admin plugin). Better Auth's model: a
//! *statement* lists the actions that exist per resource; a *role* is a set
//! of granted actions per resource; a caller holds a comma-separated list of
//! roles and is authorized when **any one** of them grants the whole request.

use std::collections::BTreeMap;

/// Resource -> actions.
pub type Statements = BTreeMap<String, Vec<String>>;

/// The declared statements and the roles built from them.
#[derive(Debug, Clone, Default)]
pub struct AccessControl {
    statements: Statements,
    roles: BTreeMap<String, Statements>,
}

impl AccessControl {
    /// Refuses a role that grants a resource or action the statements do not declare.
    pub fn new(
        statements: Statements,
        roles: BTreeMap<String, Statements>,
    ) -> Result<Self, String> {
        let ac = AccessControl {
            statements,
            roles: BTreeMap::new(),
        };
        for (name, role) in &roles {
            ac.check_statements(role)
                .map_err(|e| format!("role {name:?}: {e}"))?;
        }
        Ok(AccessControl { roles, ..ac })
    }

    pub fn statements(&self) -> &Statements {
        &self.statements
    }

    pub fn role(&self, name: &str) -> Option<&Statements> {
        self.roles.get(name)
    }

    pub fn roles(&self) -> &BTreeMap<String, Statements> {
        &self.roles
    }

    /// Every resource and action in `s` is declared; the error names the first that is not.
    pub fn check_statements(&self, s: &Statements) -> Result<(), String> {
        for (resource, actions) in s {
            let Some(declared) = self.statements.get(resource) else {
                return Err(format!("unknown resource {resource:?}"));
            };
            if let Some(a) = actions.iter().find(|a| !declared.contains(a)) {
                return Err(format!("unknown action {a:?} on resource {resource:?}"));
            }
        }
        Ok(())
    }
}

/// The role names in a stored role list (`"admin,member"`), trimmed, empty parts dropped.
pub fn role_names(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|r| !r.is_empty())
}

/// Whether `role` grants every requested action of every requested resource
/// (an unknown resource, or an empty request, is not granted).
pub fn grants(role: &Statements, request: &Statements) -> bool {
    !request.is_empty()
        && request.iter().all(|(resource, actions)| {
            role.get(resource)
                .is_some_and(|granted| actions.iter().all(|a| granted.contains(a)))
        })
}

/// Whether any one of the comma-separated `roles`, looked up with `lookup`,
/// grants the whole request.
pub fn authorize(
    roles: &str,
    lookup: impl Fn(&str) -> Option<Statements>,
    request: &Statements,
) -> bool {
    role_names(roles)
        .filter_map(lookup)
        .any(|role| grants(&role, request))
}

/// Whether `held` (the union of what the caller's roles grant) covers
/// everything `role` grants: a role may only be handed out by someone who
/// could do all it allows, so no one grants more than they hold.
pub fn covers(held: &[Statements], role: &Statements) -> bool {
    role.iter().all(|(resource, actions)| {
        actions.iter().all(|a| {
            held.iter()
                .any(|h| h.get(resource).is_some_and(|g| g.contains(a)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(pairs: &[(&str, &[&str])]) -> Statements {
        pairs
            .iter()
            .map(|(r, a)| (r.to_string(), a.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn any_single_role_must_grant_the_whole_request() {
        let reader = st(&[("doc", &["read"])]);
        let writer = st(&[("doc", &["write"])]);
        let lookup = |n: &str| match n {
            "reader" => Some(reader.clone()),
            "writer" => Some(writer.clone()),
            _ => None,
        };
        assert!(authorize("reader", lookup, &st(&[("doc", &["read"])])));
        assert!(authorize(
            " nobody , writer",
            lookup,
            &st(&[("doc", &["write"])])
        ));
        // Two roles that together would cover it do not: one role must.
        assert!(!authorize(
            "reader,writer",
            lookup,
            &st(&[("doc", &["read", "write"])])
        ));
        assert!(!authorize("reader", lookup, &st(&[("other", &["read"])])));
        assert!(!authorize("reader", lookup, &Statements::new()));
    }

    #[test]
    fn roles_are_checked_against_the_statements() {
        let statements = st(&[("doc", &["read", "write"])]);
        let bad = [("x".to_string(), st(&[("doc", &["delete"])]))].into();
        let err = AccessControl::new(statements.clone(), bad).unwrap_err();
        assert!(err.contains("\"delete\"") && err.contains("\"x\""), "{err}");
        let ok = [("x".to_string(), st(&[("doc", &["read"])]))].into();
        assert!(AccessControl::new(statements, ok).is_ok());
    }

    #[test]
    fn covers_is_the_union_of_held_roles() {
        let held = [st(&[("doc", &["read"])]), st(&[("doc", &["write"])])];
        assert!(covers(&held, &st(&[("doc", &["read", "write"])])));
        assert!(!covers(&held, &st(&[("doc", &["delete"])])));
    }
}
