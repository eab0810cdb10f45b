//! Who a provider identity signs in as, or whether it may join the signed-in
//! user: one decision over every case, so that each transition is a unit test
//! and the callback, ID-token sign-in and `link-social` only carry out the answer.
//!
//! The rules follow Better Auth 1.7.25 (`oauth2/link-account`), with its
//! `requireLocalEmailVerified` default, and close the pre-registration
//! takeover: an address the provider has not verified never reaches an
//! existing user, and neither does a verified one whose local owner never
//! proved it (someone may have registered it first, waiting for the real owner).

use crate::error::{codes, ErrorCode};

/// The `account_linking` settings and the provider's sign-up switches.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `account_linking.enabled` (default true): implicit linking by email at all.
    pub linking_enabled: bool,
    /// `account_linking.trusted_providers`: their addresses count as verified.
    pub trusted_providers: Vec<String>,
    /// `account_linking.allow_different_emails` (default false): a linked
    /// identity's address may differ from the user's.
    pub allow_different_emails: bool,
    /// `account_linking.require_local_email_verified` (default true): no
    /// implicit link to a user whose own address is unproven.
    pub require_local_email_verified: bool,
    /// The provider's `disable_sign_up`: no new users through it.
    pub disable_sign_up: bool,
    /// The provider's `disable_implicit_sign_up`: new users only with `requestSignUp`.
    pub disable_implicit_sign_up: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            linking_enabled: true,
            trusted_providers: Vec::new(),
            allow_different_emails: false,
            require_local_email_verified: true,
            disable_sign_up: false,
            disable_implicit_sign_up: false,
        }
    }
}

/// What the provider vouched for.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub provider_id: &'a str,
    /// The provider's subject (`sub`, GitHub's numeric id, ...).
    pub account_id: &'a str,
    /// Lower-cased; `None` when the provider gave none.
    pub email: Option<&'a str>,
    pub email_verified: bool,
}

/// A local user, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalUser<'a> {
    pub id: &'a str,
    /// Lower-cased.
    pub email: &'a str,
    pub email_verified: bool,
}

/// Why the flow runs.
#[derive(Debug, Clone, Copy)]
pub enum Intent<'a> {
    /// Sign-in (redirect callback or ID token); `request_sign_up` is the body's `requestSignUp`.
    SignIn { request_sign_up: bool },
    /// `link-social` by this signed-in user (redirect callback or ID token).
    Link { user: LocalUser<'a> },
}

/// What the store knows about the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    /// The user this provider account is already linked to.
    pub account_owner: Option<LocalUser<'a>>,
    /// The user whose address is the identity's (sign-in only).
    pub user_with_email: Option<LocalUser<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Sign in as the account's owner (its tokens are refreshed).
    SignInLinked {
        user_id: &'a str,
    },
    /// Link the identity to this user, then sign in. `verify_email`: the
    /// provider vouched for the user's own address, which becomes verified.
    LinkAndSignIn {
        user_id: &'a str,
        verify_email: bool,
    },
    /// Create the user (with the provider's verification state) and the account.
    CreateUser,
    /// `link-social`: the identity joins the signed-in user, or (already
    /// linked to them) has its tokens refreshed.
    Linked {
        user_id: &'a str,
        already: bool,
    },
    Refuse(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The provider gave no address to sign in with.
    EmailNotFound,
    /// Implicit linking is off, the provider's address is unverified (and the
    /// provider not trusted), or the local owner never verified theirs.
    NotLinkable,
    /// No such user, and sign-up through this provider is off.
    SignUpDisabled,
    /// `link-social` of an identity another user already holds.
    LinkedToAnotherUser,
    /// `link-social` of an identity with another address, not allowed.
    DifferentEmail,
}

impl Refusal {
    /// The callback's `?error=` value (Better Auth's, §2.3).
    pub fn callback_error(self) -> &'static str {
        match self {
            Refusal::EmailNotFound => "email_not_found",
            Refusal::NotLinkable => "account_not_linked",
            Refusal::SignUpDisabled => "signup_disabled",
            Refusal::LinkedToAnotherUser => "account_already_linked_to_different_user",
            Refusal::DifferentEmail => "email_does_not_match",
        }
    }

    /// The JSON error of the ID-token forms (its status is the code's).
    pub fn api_error(self, intent_is_link: bool) -> ErrorCode {
        match self {
            Refusal::EmailNotFound => codes::USER_EMAIL_NOT_FOUND,
            Refusal::NotLinkable if intent_is_link => codes::LINKING_NOT_ALLOWED,
            Refusal::NotLinkable | Refusal::SignUpDisabled => codes::OAUTH_LINK_ERROR,
            Refusal::LinkedToAnotherUser => codes::SOCIAL_ACCOUNT_ALREADY_LINKED,
            Refusal::DifferentEmail => codes::LINKING_DIFFERENT_EMAILS_NOT_ALLOWED,
        }
    }
}

/// The decision for `identity`, given the `policy`, the flow's `intent` and what is `known`.
pub fn decide<'a>(
    policy: &Policy,
    identity: &Identity<'_>,
    intent: Intent<'a>,
    known: Known<'a>,
) -> Decision<'a> {
    let vouched = identity.email_verified
        || policy
            .trusted_providers
            .iter()
            .any(|p| p == identity.provider_id);
    match intent {
        Intent::Link { user } => {
            if let Some(owner) = known.account_owner {
                return if owner.id == user.id {
                    Decision::Linked {
                        user_id: user.id,
                        already: true,
                    }
                } else {
                    Decision::Refuse(Refusal::LinkedToAnotherUser)
                };
            }
            if !policy.linking_enabled || !vouched {
                return Decision::Refuse(Refusal::NotLinkable);
            }
            if !policy.allow_different_emails && identity.email != Some(user.email) {
                return Decision::Refuse(Refusal::DifferentEmail);
            }
            Decision::Linked {
                user_id: user.id,
                already: false,
            }
        }
        Intent::SignIn { request_sign_up } => {
            let Some(email) = identity.email else {
                return Decision::Refuse(Refusal::EmailNotFound);
            };
            if let Some(owner) = known.account_owner {
                return Decision::SignInLinked { user_id: owner.id };
            }
            if let Some(user) = known.user_with_email {
                let local_ok = user.email_verified || !policy.require_local_email_verified;
                if !policy.linking_enabled || !vouched || !local_ok {
                    return Decision::Refuse(Refusal::NotLinkable);
                }
                return Decision::LinkAndSignIn {
                    user_id: user.id,
                    verify_email: identity.email_verified
                        && !user.email_verified
                        && user.email == email,
                };
            }
            if policy.disable_sign_up || (policy.disable_implicit_sign_up && !request_sign_up) {
                return Decision::Refuse(Refusal::SignUpDisabled);
            }
            Decision::CreateUser
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: LocalUser<'static> = LocalUser {
        id: "u-alice",
        email: "alice@example.com",
        email_verified: true,
    };
    const UNPROVEN_ALICE: LocalUser<'static> = LocalUser {
        id: "u-alice",
        email: "alice@example.com",
        email_verified: false,
    };
    const BOB: LocalUser<'static> = LocalUser {
        id: "u-bob",
        email: "bob@example.com",
        email_verified: true,
    };

    fn identity(email: Option<&'static str>, verified: bool) -> Identity<'static> {
        Identity {
            provider_id: "github",
            account_id: "1234",
            email,
            email_verified: verified,
        }
    }

    /// The store holds a user with the identity's address.
    fn with_email(user: LocalUser<'static>) -> Known<'static> {
        Known {
            user_with_email: Some(user),
            ..Known::default()
        }
    }

    /// The identity is already linked to `user`.
    fn owned_by(user: LocalUser<'static>) -> Known<'static> {
        Known {
            account_owner: Some(user),
            ..Known::default()
        }
    }

    const SIGN_IN: Intent<'static> = Intent::SignIn {
        request_sign_up: false,
    };

    fn sign_in(policy: &Policy, id: Identity<'static>, known: Known<'static>) -> Decision<'static> {
        decide(policy, &id, SIGN_IN, known)
    }

    fn link(policy: &Policy, id: Identity<'static>, known: Known<'static>) -> Decision<'static> {
        decide(policy, &id, Intent::Link { user: ALICE }, known)
    }

    #[test]
    fn sign_in_without_an_address_is_refused() {
        let d = sign_in(&Policy::default(), identity(None, true), Known::default());
        assert_eq!(d, Decision::Refuse(Refusal::EmailNotFound));
        assert_eq!(Refusal::EmailNotFound.callback_error(), "email_not_found");
    }

    #[test]
    fn a_linked_identity_signs_in_as_its_owner_whatever_the_address_says() {
        let known = Known {
            account_owner: Some(BOB),
            user_with_email: Some(ALICE),
        };
        // The owner changed their address at the provider: still the owner.
        let d = sign_in(
            &Policy::default(),
            identity(Some("alice@example.com"), false),
            known,
        );
        assert_eq!(d, Decision::SignInLinked { user_id: "u-bob" });
    }

    #[test]
    fn a_verified_address_links_to_a_verified_user() {
        let known = with_email(ALICE);
        let d = sign_in(
            &Policy::default(),
            identity(Some("alice@example.com"), true),
            known,
        );
        assert_eq!(
            d,
            Decision::LinkAndSignIn {
                user_id: "u-alice",
                verify_email: false
            }
        );
    }

    #[test]
    fn an_unverified_provider_address_never_reaches_an_existing_user() {
        let known = with_email(ALICE);
        let d = sign_in(
            &Policy::default(),
            identity(Some("alice@example.com"), false),
            known,
        );
        assert_eq!(d, Decision::Refuse(Refusal::NotLinkable));
        assert_eq!(Refusal::NotLinkable.callback_error(), "account_not_linked");
    }

    #[test]
    fn a_pre_registered_unproven_local_user_is_not_taken_over() {
        // Someone signed up with alice's address first and never verified it;
        // alice's verified provider identity must not sign in as that user.
        let known = with_email(UNPROVEN_ALICE);
        let d = sign_in(
            &Policy::default(),
            identity(Some("alice@example.com"), true),
            known,
        );
        assert_eq!(d, Decision::Refuse(Refusal::NotLinkable));
        // Turning the local check off links, and the provider's word verifies the address.
        let lenient = Policy {
            require_local_email_verified: false,
            ..Policy::default()
        };
        let d = sign_in(&lenient, identity(Some("alice@example.com"), true), known);
        assert_eq!(
            d,
            Decision::LinkAndSignIn {
                user_id: "u-alice",
                verify_email: true
            }
        );
    }

    #[test]
    fn a_trusted_provider_links_without_a_verified_address() {
        let policy = Policy {
            trusted_providers: vec!["github".into()],
            ..Policy::default()
        };
        let known = with_email(ALICE);
        let d = sign_in(&policy, identity(Some("alice@example.com"), false), known);
        assert_eq!(
            d,
            Decision::LinkAndSignIn {
                user_id: "u-alice",
                verify_email: false
            }
        );
        // Trust is per provider.
        let other = Identity {
            provider_id: "discord",
            ..identity(Some("alice@example.com"), false)
        };
        assert_eq!(
            decide(&policy, &other, SIGN_IN, known),
            Decision::Refuse(Refusal::NotLinkable)
        );
    }

    #[test]
    fn linking_off_refuses_every_implicit_link() {
        let policy = Policy {
            linking_enabled: false,
            trusted_providers: vec!["github".into()],
            ..Policy::default()
        };
        let known = with_email(ALICE);
        let d = sign_in(&policy, identity(Some("alice@example.com"), true), known);
        assert_eq!(d, Decision::Refuse(Refusal::NotLinkable));
        let d = link(
            &policy,
            identity(Some("alice@example.com"), true),
            Known::default(),
        );
        assert_eq!(d, Decision::Refuse(Refusal::NotLinkable));
    }

    #[test]
    fn a_new_address_creates_a_user_unless_sign_up_is_off() {
        let id = identity(Some("carol@example.com"), false);
        assert_eq!(
            sign_in(&Policy::default(), id, Known::default()),
            Decision::CreateUser
        );
        let off = Policy {
            disable_sign_up: true,
            ..Policy::default()
        };
        assert_eq!(
            decide(
                &off,
                &id,
                Intent::SignIn {
                    request_sign_up: true
                },
                Known::default()
            ),
            Decision::Refuse(Refusal::SignUpDisabled)
        );
        let implicit_off = Policy {
            disable_implicit_sign_up: true,
            ..Policy::default()
        };
        assert_eq!(
            sign_in(&implicit_off, id, Known::default()),
            Decision::Refuse(Refusal::SignUpDisabled)
        );
        assert_eq!(
            decide(
                &implicit_off,
                &id,
                Intent::SignIn {
                    request_sign_up: true
                },
                Known::default()
            ),
            Decision::CreateUser
        );
        // Sign-up switches never stop an existing owner.
        let known = owned_by(BOB);
        assert_eq!(
            sign_in(&off, id, known),
            Decision::SignInLinked { user_id: "u-bob" }
        );
    }

    #[test]
    fn link_social_joins_the_signed_in_user() {
        let d = link(
            &Policy::default(),
            identity(Some("alice@example.com"), true),
            Known::default(),
        );
        assert_eq!(
            d,
            Decision::Linked {
                user_id: "u-alice",
                already: false
            }
        );
    }

    #[test]
    fn link_social_of_an_identity_already_held() {
        let mine = owned_by(ALICE);
        let d = link(
            &Policy::default(),
            identity(Some("alice@example.com"), true),
            mine,
        );
        assert_eq!(
            d,
            Decision::Linked {
                user_id: "u-alice",
                already: true
            }
        );
        let theirs = owned_by(BOB);
        let d = link(
            &Policy::default(),
            identity(Some("bob@example.com"), true),
            theirs,
        );
        assert_eq!(d, Decision::Refuse(Refusal::LinkedToAnotherUser));
        assert_eq!(
            {
                let e = Refusal::LinkedToAnotherUser.api_error(true);
                (e.status, e.code)
            },
            (409, "SOCIAL_ACCOUNT_ALREADY_LINKED")
        );
        assert_eq!(
            Refusal::LinkedToAnotherUser.callback_error(),
            "account_already_linked_to_different_user"
        );
    }

    #[test]
    fn link_social_needs_a_vouched_address() {
        let d = link(
            &Policy::default(),
            identity(Some("alice@example.com"), false),
            Known::default(),
        );
        assert_eq!(d, Decision::Refuse(Refusal::NotLinkable));
        assert_eq!(
            {
                let e = Refusal::NotLinkable.api_error(true);
                (e.status, e.code)
            },
            (401, "LINKING_NOT_ALLOWED")
        );
    }

    #[test]
    fn link_social_with_another_address_only_when_allowed() {
        let other = identity(Some("alice.work@example.com"), true);
        let d = link(&Policy::default(), other, Known::default());
        assert_eq!(d, Decision::Refuse(Refusal::DifferentEmail));
        assert_eq!(
            {
                let e = Refusal::DifferentEmail.api_error(true);
                (e.status, e.code)
            },
            (401, "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED")
        );
        assert_eq!(
            Refusal::DifferentEmail.callback_error(),
            "email_does_not_match"
        );
        // No address at all is "another address" too.
        let d = link(&Policy::default(), identity(None, true), Known::default());
        assert_eq!(d, Decision::Refuse(Refusal::DifferentEmail));
        let allow = Policy {
            allow_different_emails: true,
            ..Policy::default()
        };
        assert_eq!(
            link(&allow, other, Known::default()),
            Decision::Linked {
                user_id: "u-alice",
                already: false
            }
        );
    }
}
