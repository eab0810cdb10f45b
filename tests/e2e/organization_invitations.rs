//! Invitations: mailed over a real SMTP exchange, accepted from the mailed
//! link's id, exactly once under concurrency; reject, cancel, resend,
//! expiry, limits, the recipient and inviter rules.

use std::sync::Arc;

use chrono::Duration;
use gatehouse_server::plugins::organization::store;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::{json, Value};

use super::{active, add, audit_actions, create_org, id, member_row, server, sorted, user, User};

on_both_backends!(
    organization_invitation_mailed_and_accepted,
    organization_invitation_reject_cancel_resend_expiry,
    organization_invitation_settings,
    organization_parallel_accepts_make_one_member,
);

/// Signs up a user with a given address.
pub async fn sign_up_as(s: &TestServer, addr: &str) -> User {
    let c = s.client();
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": "Invitee", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    User {
        id: r.json()["user"]["id"].as_str().unwrap().to_string(),
        email: addr.to_string(),
        c,
    }
}

/// The invitation id from the `n`-th invitation mailed to `to`.
pub async fn mailed_id(sink: &SmtpSink, s: &TestServer, to: &str, n: usize) -> String {
    let mail = sink.wait_for(to, n).await;
    let link = mail
        .link("/accept-invitation/")
        .unwrap_or_else(|| panic!("no invitation link in {}", mail.decoded()));
    let prefix = format!("{}/accept-invitation/", s.origin);
    link.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("link {link} is not under {prefix}"))
        .to_string()
}

async fn invite(u: &User, addr: &str, role: Value) -> Value {
    let r =
        u.c.post(
            "/organization/invite-member",
            json!({"email": addr, "role": role}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn status(s: &TestServer, inv: &str) -> String {
    store::find_invitation(s.db(), inv)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// Marks an address verified, and lets cached sessions expire.
async fn verify(s: &TestServer, addr: &str) {
    s.db()
        .batch_execute(&format!(
            "UPDATE \"user\" SET \"emailVerified\" = true WHERE \"email\" = '{addr}'"
        ))
        .await
        .unwrap();
    s.clock.advance(Duration::seconds(60));
}

async fn organization_invitation_mailed_and_accepted(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, Some(&sink), |_| {}).await;
    let owner = user(&s).await;
    let org = id(&create_org(&owner, "mailers").await);
    let addr = email();

    let now = s.gatehouse.state().now();
    let inv = invite(&owner, &addr.to_uppercase(), json!(["admin"])).await;
    assert_eq!(inv["email"], addr.as_str());
    assert_eq!(inv["role"], "admin");
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["organizationId"], org.as_str());
    assert_eq!(inv["inviterId"], owner.id.as_str());
    assert_eq!(inv["teamId"], Value::Null);
    let expires = store::find_invitation(s.db(), &id(&inv))
        .await
        .unwrap()
        .unwrap()
        .expires_at;
    assert_eq!(expires - now, Duration::hours(48));

    // The mail: to the address, naming the organization and the inviter,
    // with a link carrying the invitation id.
    let mail = sink.wait_for(&addr, 1).await;
    assert!(
        mail.subject().unwrap().contains("Org mailers"),
        "{:?}",
        mail.subject()
    );
    assert!(mail.decoded().contains(&owner.email));
    let inv_id = mailed_id(&sink, &s, &addr, 1).await;
    assert_eq!(inv_id, id(&inv));

    // Only the recipient may see or answer it.
    let other = user(&s).await;
    other
        .c
        .get(&format!("/organization/get-invitation?id={inv_id}"))
        .await
        .assert_error(403, "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION");
    other
        .c
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": inv_id}),
        )
        .await
        .assert_error(403, "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION");
    other
        .c
        .post(
            "/organization/reject-invitation",
            json!({"invitationId": inv_id}),
        )
        .await
        .assert_error(403, "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION");
    s.client()
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": inv_id}),
        )
        .await
        .assert_error(401, "UNAUTHORIZED");

    let invitee = sign_up_as(&s, &addr).await;
    let details = invitee
        .c
        .get(&format!("/organization/get-invitation?id={inv_id}"))
        .await
        .json();
    assert_eq!(details["id"], inv_id.as_str());
    assert_eq!(details["organizationName"], "Org mailers");
    assert_eq!(details["organizationSlug"], "mailers");
    assert_eq!(details["inviterEmail"], owner.email.as_str());
    assert_eq!(details["status"], "pending");

    // Listing one's own invitations needs a verified address.
    invitee
        .c
        .get("/organization/list-user-invitations")
        .await
        .assert_error(403, "EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION");
    verify(&s, &addr).await;
    let mine = invitee
        .c
        .get("/organization/list-user-invitations")
        .await
        .json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["id"], inv_id.as_str());
    assert_eq!(mine[0]["organizationName"], "Org mailers");

    let r = invitee
        .c
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": inv_id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["invitation"]["status"], "accepted");
    assert_eq!(j["member"]["userId"], invitee.id.as_str());
    assert_eq!(j["member"]["role"], "admin");
    assert_eq!(j["member"]["organizationId"], org.as_str());
    let row = member_row(&s, &org, &invitee.id).await.unwrap();
    assert_eq!(
        (row.id.as_str(), row.role.as_str()),
        (j["member"]["id"].as_str().unwrap(), "admin")
    );
    assert_eq!(status(&s, &inv_id).await, "accepted");
    // The new member's session has the organization active.
    assert_eq!(active(&invitee.c).await.0, json!(org));

    // Once only.
    invitee
        .c
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": inv_id}),
        )
        .await
        .assert_error(400, "INVITATION_NOT_FOUND");
    invitee
        .c
        .get(&format!("/organization/get-invitation?id={inv_id}"))
        .await
        .assert_error(400, "INVITATION_NOT_FOUND");
    assert_eq!(
        invitee
            .c
            .get("/organization/list-user-invitations")
            .await
            .json(),
        json!([])
    );
    // Now a member: inviting the address again is refused.
    owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": addr, "role": "member"}),
        )
        .await
        .assert_error(400, "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION");
    let listed = owner.c.get("/organization/list-invitations").await.json();
    assert_eq!(listed[0]["status"], "accepted");
    assert_eq!(
        audit_actions(&s, &org).await,
        sorted(&[
            "organization.create",
            "organization.invite-member",
            "organization.accept-invitation"
        ])
    );
}

async fn organization_invitation_reject_cancel_resend_expiry(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, Some(&sink), |_| {}).await;
    let owner = user(&s).await;
    let org = id(&create_org(&owner, "gate").await);
    let plain = user(&s).await;
    add(&s, &org, &plain, "member").await;
    plain
        .c
        .post("/organization/set-active", json!({"organizationId": org}))
        .await;
    let outsider = user(&s).await;

    // Input and permission errors.
    post_invite(&owner, json!({"email": "not-an-address", "role": "member"}))
        .await
        .assert_error(400, "INVALID_EMAIL");
    post_invite(&owner, json!({"email": email(), "role": []}))
        .await
        .assert_error(400, "ROLE_NOT_FOUND");
    let r = post_invite(
        &owner,
        json!({"email": email(), "role": ["member", "ghost"]}),
    )
    .await;
    r.assert_error(400, "ROLE_NOT_FOUND");
    assert_eq!(r.json()["message"], "ROLE_NOT_FOUND: ghost");
    post_invite(&owner, json!({"email": owner.email, "role": "member"}))
        .await
        .assert_error(400, "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION");
    post_invite(&plain, json!({"email": email(), "role": "member"}))
        .await
        .assert_error(
            403,
            "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION",
        );
    post_invite(&outsider, json!({"email": email(), "role": "member"}))
        .await
        .assert_error(400, "ORGANIZATION_NOT_FOUND");
    post_invite(
        &outsider,
        json!({"email": email(), "role": "member", "organizationId": org}),
    )
    .await
    .assert_error(400, "MEMBER_NOT_FOUND");
    plain
        .c
        .get("/organization/list-invitations")
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS");
    outsider
        .c
        .get("/organization/list-invitations")
        .await
        .assert_error(400, "NO_ACTIVE_ORGANIZATION");

    // Re-inviting a pending address: refused, unless resent (same
    // invitation, new expiry, mailed again).
    let x = email();
    let first = invite(&owner, &x, json!("member")).await;
    post_invite(&owner, json!({"email": x, "role": "member"}))
        .await
        .assert_error(400, "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION");
    s.clock.advance(Duration::hours(1));
    let again = invite_resend(&owner, &x).await;
    assert_eq!(again["id"], first["id"]);
    assert!(again["expiresAt"].as_str() > first["expiresAt"].as_str());
    assert_eq!(mailed_id(&sink, &s, &x, 2).await, id(&first));
    plain
        .c
        .post(
            "/organization/cancel-invitation",
            json!({"invitationId": id(&first)}),
        )
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION");

    // Rejecting.
    let xu = sign_up_as(&s, &x).await;
    let r =
        xu.c.post(
            "/organization/reject-invitation",
            json!({"invitationId": id(&first)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["invitation"]["status"], "rejected");
    assert_eq!(r.json()["member"], Value::Null);
    assert_eq!(status(&s, &id(&first)).await, "rejected");
    assert!(member_row(&s, &org, &xu.id).await.is_none());
    for path in ["reject-invitation", "accept-invitation"] {
        xu.c.post(
            &format!("/organization/{path}"),
            json!({"invitationId": id(&first)}),
        )
        .await
        .assert_error(400, "INVITATION_NOT_FOUND");
    }

    // Canceling.
    let y = email();
    let inv_y = invite(&owner, &y, json!("member")).await;
    let r = owner
        .c
        .post(
            "/organization/cancel-invitation",
            json!({"invitationId": id(&inv_y)}),
        )
        .await;
    assert_eq!(r.json()["status"], "canceled");
    assert_eq!(status(&s, &id(&inv_y)).await, "canceled");
    let yu = sign_up_as(&s, &y).await;
    yu.c.post(
        "/organization/accept-invitation",
        json!({"invitationId": id(&inv_y)}),
    )
    .await
    .assert_error(400, "INVITATION_NOT_FOUND");
    owner
        .c
        .post(
            "/organization/cancel-invitation",
            json!({"invitationId": "no-such-invitation"}),
        )
        .await
        .assert_error(400, "INVITATION_NOT_FOUND");

    // Expiry (48 hours): an expired invitation is no invitation; the
    // address may be invited again.
    let z = email();
    let inv_z = invite(&owner, &z, json!("member")).await;
    s.clock.advance(Duration::hours(48) + Duration::seconds(1));
    let zu = sign_up_as(&s, &z).await;
    zu.c.get(&format!("/organization/get-invitation?id={}", id(&inv_z)))
        .await
        .assert_error(400, "INVITATION_NOT_FOUND");
    zu.c.post(
        "/organization/accept-invitation",
        json!({"invitationId": id(&inv_z)}),
    )
    .await
    .assert_error(400, "INVITATION_NOT_FOUND");
    assert!(member_row(&s, &org, &zu.id).await.is_none());
    let renewed = invite(&owner, &z, json!("member")).await;
    assert_ne!(renewed["id"], inv_z["id"]);

    // An inviter who has left voids the invitation.
    let admin = user(&s).await;
    add(&s, &org, &admin, "admin").await;
    admin
        .c
        .post("/organization/set-active", json!({"organizationId": org}))
        .await;
    let w = email();
    let inv_w = invite(&admin, &w, json!("member")).await;
    // Invitations to the creator role are hidden from those who do not hold it.
    let inv_owner = invite(&owner, &email(), json!("owner")).await;
    let seen: Vec<Value> = admin
        .c
        .get("/organization/list-invitations")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert!(seen.contains(&inv_w["id"]) && !seen.contains(&inv_owner["id"]));
    let full = admin
        .c
        .get("/organization/get-full-organization")
        .await
        .json();
    assert!(!full["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == inv_owner["id"]));
    let all = owner.c.get("/organization/list-invitations").await.json();
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == inv_owner["id"]));

    admin
        .c
        .post("/organization/leave", json!({"organizationId": org}))
        .await;
    let wu = sign_up_as(&s, &w).await;
    wu.c.get(&format!("/organization/get-invitation?id={}", id(&inv_w)))
        .await
        .assert_error(400, "INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION");
    wu.c.post(
        "/organization/accept-invitation",
        json!({"invitationId": id(&inv_w)}),
    )
    .await
    .assert_error(400, "INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION");
    assert!(member_row(&s, &org, &wu.id).await.is_none());
    assert_eq!(status(&s, &id(&inv_w)).await, "pending");

    // An inviter demoted since can no longer hand out what it invited to.
    let admin2 = user(&s).await;
    let m_admin2 = add(&s, &org, &admin2, "admin").await;
    admin2
        .c
        .post("/organization/set-active", json!({"organizationId": org}))
        .await;
    let v = email();
    let inv_v = invite(&admin2, &v, json!("admin")).await;
    owner
        .c
        .post(
            "/organization/update-member-role",
            json!({"memberId": m_admin2["id"], "role": "member"}),
        )
        .await;
    let vu = sign_up_as(&s, &v).await;
    vu.c.get(&format!("/organization/get-invitation?id={}", id(&inv_v)))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE");
    vu.c.post(
        "/organization/accept-invitation",
        json!({"invitationId": id(&inv_v)}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE");
    assert!(member_row(&s, &org, &vu.id).await.is_none());

    // Invited, then added another way: accepting is refused and changes nothing.
    let q = email();
    let inv_q = invite(&owner, &q, json!("member")).await;
    let qu = sign_up_as(&s, &q).await;
    add(&s, &org, &qu, "admin").await;
    qu.c.post(
        "/organization/accept-invitation",
        json!({"invitationId": id(&inv_q)}),
    )
    .await
    .assert_error(400, "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION");
    assert_eq!(status(&s, &id(&inv_q)).await, "pending");
    assert_eq!(member_row(&s, &org, &qu.id).await.unwrap().role, "admin");

    let actions = audit_actions(&s, &org).await;
    for a in [
        "organization.resend-invitation",
        "organization.reject-invitation",
        "organization.cancel-invitation",
    ] {
        assert_eq!(
            actions.iter().filter(|x| *x == a).count(),
            1,
            "{a}: {actions:?}"
        );
    }
}

async fn post_invite(u: &User, body: Value) -> gatehouse_tests::Response {
    u.c.post("/organization/invite-member", body).await
}

async fn invite_resend(u: &User, addr: &str) -> Value {
    let r =
        u.c.post(
            "/organization/invite-member",
            json!({"email": addr, "role": "member", "resend": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn organization_invitation_settings(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, Some(&sink), |o| {
        o.invitation_limit = 2;
        o.cancel_pending_invitations_on_re_invite = true;
        o.require_email_verification_on_invitation = true;
        o.membership_limit = 2;
        o.invitation_expires_in = 3600;
        o.invitation_url = "https://app.example/join?invitation={id}".into();
    })
    .await;
    let owner = user(&s).await;
    let org = id(&create_org(&owner, "strict").await);
    let now = s.gatehouse.state().now();

    let a = email();
    let first = invite(&owner, &a, json!("member")).await;
    let row = store::find_invitation(s.db(), &id(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.expires_at - now, Duration::hours(1));
    let link = sink
        .wait_for(&a, 1)
        .await
        .link("https://app.example/join")
        .unwrap();
    assert_eq!(
        link,
        format!("https://app.example/join?invitation={}", id(&first))
    );
    // Re-inviting cancels the pending one.
    let second = invite(&owner, &a, json!("admin")).await;
    assert_ne!(second["id"], first["id"]);
    assert_eq!(status(&s, &id(&first)).await, "canceled");
    invite(&owner, &email(), json!("member")).await;
    owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": email(), "role": "member"}),
        )
        .await
        .assert_error(403, "INVITATION_LIMIT_REACHED");

    // A verified address is needed to see, accept or reject.
    let au = sign_up_as(&s, &a).await;
    au.c.get(&format!("/organization/get-invitation?id={}", id(&second)))
        .await
        .assert_error(403, "EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION");
    for path in ["accept-invitation", "reject-invitation"] {
        au.c.post(
            &format!("/organization/{path}"),
            json!({"invitationId": id(&second)}),
        )
        .await
        .assert_error(
            403,
            "EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION",
        );
    }
    verify(&s, &a).await;
    let filler = user(&s).await;
    add(&s, &org, &filler, "member").await;
    // Full (membership limit 2): refused, and the invitation stays pending.
    au.c.post(
        "/organization/accept-invitation",
        json!({"invitationId": id(&second)}),
    )
    .await
    .assert_error(403, "ORGANIZATION_MEMBERSHIP_LIMIT_REACHED");
    assert_eq!(status(&s, &id(&second)).await, "pending");
    owner
        .c
        .post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": filler.email}),
        )
        .await;
    let r =
        au.c.post(
            "/organization/accept-invitation",
            json!({"invitationId": id(&second)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(member_row(&s, &org, &au.id).await.unwrap().role, "admin");
}

async fn organization_parallel_accepts_make_one_member(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, Some(&sink), |_| {}).await;
    let owner = user(&s).await;
    let org = id(&create_org(&owner, "race").await);
    let addr = email();
    invite(&owner, &addr, json!("member")).await;
    let inv_id = mailed_id(&sink, &s, &addr, 1).await;
    let invitee = sign_up_as(&s, &addr).await;
    let c = Arc::new(invitee.c);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        let inv_id = inv_id.clone();
        tasks.push(tokio::spawn(async move {
            c.post(
                "/organization/accept-invitation",
                json!({"invitationId": inv_id}),
            )
            .await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => accepted += 1,
            _ => r.assert_error(400, "INVITATION_NOT_FOUND"),
        }
    }
    assert_eq!(accepted, 1, "exactly one accept wins");
    assert_eq!(store::count_members(s.db(), &org).await.unwrap(), 2);
    assert!(member_row(&s, &org, &invitee.id).await.is_some());
    assert_eq!(status(&s, &inv_id).await, "accepted");
    let accepts = audit_actions(&s, &org)
        .await
        .iter()
        .filter(|a| *a == "organization.accept-invitation")
        .count();
    assert_eq!(accepts, 1);
}
