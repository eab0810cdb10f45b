//! Message templates: a subject, a plain-text body that always carries the
//! absolute link (or the code) on a line of its own, and an HTML body.
//! Placeholders: `{app}`, `{url}`, `{email}`. Overridable per kind in
//! config (`[mail.templates.<key>]`). The core's kinds are here; a plugin
//! declares its own [`MailKind`]s next to its code.

pub use crate::config::MailTemplate;

/// One kind of mail: its key under `[mail.templates]` and its built-in template.
#[derive(Debug)]
pub struct MailKind {
    pub key: &'static str,
    pub default: fn() -> MailTemplate,
}

pub const VERIFY_EMAIL: MailKind = MailKind {
    key: "verify_email",
    default: verify_email_default,
};
pub const RESET_PASSWORD: MailKind = MailKind {
    key: "reset_password",
    default: reset_password_default,
};
pub const DELETE_ACCOUNT: MailKind = MailKind {
    key: "delete_account",
    default: delete_account_default,
};
pub const CHANGE_EMAIL_CONFIRM: MailKind = MailKind {
    key: "change_email_confirm",
    default: change_email_confirm_default,
};

/// The mails the core sends.
pub const CORE_KINDS: &[MailKind] = &[
    VERIFY_EMAIL,
    RESET_PASSWORD,
    DELETE_ACCOUNT,
    CHANGE_EMAIL_CONFIRM,
];

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fill(template: &str, app: &str, url: &str, email: &str, escape: bool) -> String {
    let (app, url, email) = if escape {
        (html_escape(app), html_escape(url), html_escape(email))
    } else {
        (app.to_string(), url.to_string(), email.to_string())
    };
    template
        .replace("{app}", &app)
        .replace("{url}", &url)
        .replace("{email}", &email)
}

fn verify_email_default() -> MailTemplate {
    MailTemplate {
        subject: "Verify your email for {app}".into(),
        text: "Confirm your email address for {app} by opening this link:\n\n{url}\n\nIf you did not ask for this, ignore this message.\n".into(),
        html: "<p>Confirm your email address for {app}:</p><p><a href=\"{url}\">Verify email</a></p><p>If you did not ask for this, ignore this message.</p>".into(),
    }
}

fn reset_password_default() -> MailTemplate {
    MailTemplate {
        subject: "Reset your password for {app}".into(),
        text: "Someone asked to reset the password of your {app} account. To choose a new one, open:\n\n{url}\n\nIf it was not you, ignore this message; your password stays as it is.\n".into(),
        html: "<p>Someone asked to reset the password of your {app} account.</p><p><a href=\"{url}\">Choose a new password</a></p><p>If it was not you, ignore this message.</p>".into(),
    }
}

fn delete_account_default() -> MailTemplate {
    MailTemplate {
        subject: "Confirm deleting your {app} account".into(),
        text: "To delete your {app} account ({email}) for good, open this link while signed in:\n\n{url}\n\nIf you did not ask for this, ignore this message and change your password.\n".into(),
        html: "<p>To delete your {app} account ({email}) for good, open this link while signed in:</p><p><a href=\"{url}\">Delete my account</a></p><p>If you did not ask for this, ignore this message.</p>".into(),
    }
}

fn change_email_confirm_default() -> MailTemplate {
    MailTemplate {
        subject: "Confirm changing your {app} email".into(),
        text: "Someone asked to change the email of your {app} account to {email}. To approve, open:\n\n{url}\n\nIf it was not you, ignore this message and change your password.\n".into(),
        html: "<p>Someone asked to change the email of your {app} account to {email}.</p><p><a href=\"{url}\">Approve the change</a></p><p>If it was not you, ignore this message.</p>".into(),
    }
}

pub fn render(t: &MailTemplate, app: &str, url: &str, email: &str) -> Rendered {
    Rendered {
        subject: fill(&t.subject, app, url, email, false),
        text: fill(&t.text, app, url, email, false),
        html: fill(&t.html, app, url, email, true),
    }
}
